"""A cheap headless MuJoCo renderer for pixel observations (one fixed camera, one image size).

Cheap because its offscreen buffer is the image size (the model's
``offwidth`` / ``offheight`` must allow it), and shadows, skybox and reflections are off; call
:func:`configure_cheap_quality` on the model before creating it to also drop multisampling and
the shadow map. Geom groups and convex-hull drawing are options, so an env can draw low-poly
collision geoms instead of its high-poly visual meshes.

Safe with several envs in one process: every call makes its own GL context current, and
:meth:`MujocoRenderer.close` makes it current before freeing, because freeing a MuJoCo render
context while another env's context is current deletes that env's GL objects (OGBench's visual
envs then render garbage). Renderers still open at exit are closed by an ``atexit`` hook that runs
before mujoco's ``eglTerminate`` (freeing after it raises ``EGLError`` during shutdown).
"""

from __future__ import annotations

import atexit
import sys
import weakref
from collections.abc import Sequence
from typing import Any

import mujoco
import numpy as np

WARMUP_FRAMES = 10
_LIVE: weakref.WeakSet = weakref.WeakSet()


def _close_live() -> None:
    for renderer in list(_LIVE):
        if isinstance(renderer, mujoco.Renderer):
            close_renderer(renderer)
        else:
            renderer.close()


def close_at_exit(renderer: Any) -> None:
    """Closes ``renderer`` (a :class:`MujocoRenderer` or a ``mujoco.Renderer``) at interpreter
    exit if it is still open, before mujoco's ``eglTerminate`` hook (freeing a GL context after
    it raises ``EGLError`` during shutdown). Call it after the renderer's GL context exists."""
    if not _LIVE:
        # Registered after mujoco's eglTerminate hook (made with the first GL context), so it
        # runs before it: atexit is last-in, first-out.
        atexit.unregister(_close_live)
        atexit.register(_close_live)
    _LIVE.add(renderer)


def close_renderer(renderer: mujoco.Renderer) -> None:
    """Closes a ``mujoco.Renderer`` with its own GL context current: ``Renderer.close`` frees
    the mjr context's GL objects in whatever context is current, which corrupts another live
    renderer's offscreen buffer (its frames come back upside down or garbled). Idempotent."""
    if renderer._gl_context is not None and renderer._mjr_context is not None:
        renderer._gl_context.make_current()
    renderer.close()


def configure_cheap_quality(model: mujoco.MjModel, numslices: int = 12, numstacks: int = 6) -> None:
    """No multisampling, no shadow map, coarser capsules/cylinders/spheres (render-only fields;
    they must be set before the renderer is created)."""
    model.vis.quality.offsamples = 0
    model.vis.quality.shadowsize = 0
    model.vis.quality.numslices = numslices
    model.vis.quality.numstacks = numstacks


class MujocoRenderer:
    """Renders ``(image_size, image_size, 3)`` uint8 frames from a fixed model camera.

    Args:
        model: the compiled model (its ``vis.global_.offwidth/offheight`` >= ``image_size``).
        image_size: side of the square frame in pixels.
        camera: name of a camera in the model.
        geomgroup: which of the 6 geom groups are drawn.
        convex_hull: draw collision meshes as their convex hulls.
        max_extra_geoms: room for geoms added by ``render(..., extra=...)``.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        image_size: int,
        camera: str,
        geomgroup: Sequence[int] = (1, 1, 1, 0, 0, 0),
        convex_hull: bool = False,
        max_extra_geoms: int = 4,
    ):
        self.model, self.image_size = model, image_size
        self._ctx = None
        self._gl = mujoco.GLContext(image_size, image_size)
        self._gl.make_current()
        self._ctx = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_50)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._ctx)
        close_at_exit(self)
        self.scene = mujoco.MjvScene(model, maxgeom=model.ngeom + max_extra_geoms)
        for flag in ("mjRND_SHADOW", "mjRND_SKYBOX", "mjRND_REFLECTION"):
            self.scene.flags[getattr(mujoco.mjtRndFlag, flag)] = 0
        self.option = mujoco.MjvOption()
        self.option.geomgroup[:] = geomgroup
        self.option.flags[mujoco.mjtVisFlag.mjVIS_CONVEXHULL] = convex_hull
        self.camera = mujoco.MjvCamera()
        self.camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self.camera.fixedcamid = model.camera(camera).id
        self._rect = mujoco.MjrRect(0, 0, image_size, image_size)
        self._buffer = np.empty((image_size, image_size, 3), np.uint8)

    def warm_up(self, data: mujoco.MjData) -> None:
        """Renders a few frames: the first frames of a GL context are slow (shader compiles)."""
        for _ in range(WARMUP_FRAMES):
            self.render(data)

    def render(self, data: mujoco.MjData, extra: Sequence[dict] = ()) -> np.ndarray:
        """The frame of ``data``; each ``extra`` dict (``mjv_initGeom`` arguments ``type``,
        ``size``, ``pos``, ``mat``, ``rgba``) adds a decoration geom, e.g. a goal marker."""
        if self._ctx is None:
            raise RuntimeError("MujocoRenderer: render() after close()")
        mujoco.mjv_updateScene(
            self.model,
            data,
            self.option,
            None,
            self.camera,
            mujoco.mjtCatBit.mjCAT_ALL,
            self.scene,
        )
        for geom in extra:
            mujoco.mjv_initGeom(self.scene.geoms[self.scene.ngeom], **geom)
            self.scene.ngeom += 1
        self._gl.make_current()
        mujoco.mjr_render(self._rect, self.scene, self._ctx)
        mujoco.mjr_readPixels(self._buffer, None, self._rect, self._ctx)
        return self._buffer[::-1].copy()  # GL rows run bottom-up

    def close(self) -> None:
        """Frees the GL resources with this renderer's own context current; idempotent."""
        if self._ctx is not None:
            self._gl.make_current()
            self._ctx.free()
            self._gl.free()
            self._ctx = self._gl = None

    def __del__(self) -> None:
        if not sys.is_finalizing():  # at exit the atexit hook has closed it already
            self.close()
