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


def _find(filename: str, mode: str | None = None) -> Path | None:
    """The saved file to reuse: lecture mode prefers what a full run saved, then its own quick version."""
    mode = config.get_mode(mode)
    candidates = [config.artifacts_dir(m) / filename for m in (("full", "lecture") if mode == "lecture" else (mode,))]
    return next((p for p in candidates if p.exists()), None)


def save_json(name: str, payload, mode: str | None = None) -> Path:
    """Save results that took long to compute (a comparison table, say) as ``<name>.json``."""
    path = config.artifacts_dir(mode) / f"{name}.json"
    path.write_text(json.dumps(payload, indent=1, default=float))
    return path


def load_json(name: str, mode: str | None = None):
    """What :func:`save_json` saved under ``name`` (lecture mode: a full run's first), or None."""
    path = _find(f"{name}.json", mode)
    if path is None:
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc}); delete it and run the notebook again") from exc


def load_model(name: str, mode: str | None = None):
    """Return ``(model, history_dict, info)`` saved under ``name``, or None when there is none."""
    import keras

    path = _find(f"{name}.keras", mode)
    if path is None:
        return None
    meta = path.with_suffix(".history.json")
    payload = json.loads(meta.read_text()) if meta.exists() else {"history": {}, "info": {}}
    return keras.models.load_model(path), payload["history"], payload["info"]
