"""Root pytest configuration, loaded before any test module or doctest is collected.

``--doctest-modules`` (pyproject) imports every module of ``benchmark``, ``agents`` and ``envs``
to collect its docstring examples; MuJoCo picks its GL backend at import, so the headless
backend is set here, before anything can import it.
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
