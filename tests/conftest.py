"""Shared fixtures: every test writes under its own temporary directory."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")


@pytest.fixture(autouse=True)
def _isolated_minari(tmp_path, monkeypatch):
    # Minari falls back to ~/.minari; a test must never touch the user's datasets.
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
