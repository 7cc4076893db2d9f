"""Save and find trained models and their training histories, so notebooks can reuse each other's work.

Notebook 05 saves ``<artifacts>/<name>.keras`` and ``<name>.history.json``; notebook 06 and lecture mode load
them instead of training again. ``<artifacts>`` is :func:`course_utils.config.artifacts_dir`.
"""
from __future__ import annotations

import json
from pathlib import Path

from . import config


def model_path(name: str, mode: str | None = None) -> Path:
    return config.artifacts_dir(mode) / f"{name}.keras"


def save_model(model, name: str, history=None, info: dict | None = None, mode: str | None = None) -> Path:
    """Save ``model`` as ``<name>.keras`` with its history (a Keras History or dict) and any extra info."""
    path = model_path(name, mode)
    model.save(path)
    hist = getattr(history, "history", history) or {}
    payload = {"history": {k: [float(v) for v in vals] for k, vals in hist.items()}, "info": info or {}}
    path.with_suffix(".history.json").write_text(json.dumps(payload, indent=1))
    return path


def load_model(name: str, mode: str | None = None):
    """Return ``(model, history_dict, info)`` saved under ``name``, or None when there is none."""
    import keras

    mode = config.get_mode(mode)
    # lecture mode prefers what a full run saved; it trains (and saves) its quick version only when none is there
    candidates = [model_path(name, m) for m in (("full", "lecture") if mode == "lecture" else (mode,))]
    path = next((p for p in candidates if p.exists()), None)
    if path is None:
        return None
    meta = path.with_suffix(".history.json")
    payload = json.loads(meta.read_text()) if meta.exists() else {"history": {}, "info": {}}
    return keras.models.load_model(path), payload["history"], payload["info"]
