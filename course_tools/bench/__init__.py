"""``make bench``: training benchmarks that print figures and write JSON under ``build/bench/``.

    python course.py bench                 # every part
    python course.py bench recipes         # one part: recipes | transfer | tuning | threads | layout

Speed and accuracy targets live here, never in timed tests. Recording a run and the README tables made from it:
``course_tools.bench.results``. Each part is a module
``course_tools.bench.<part>`` with ``run(out_dir) -> list[dict]``.
"""
from __future__ import annotations

import importlib
import json
import platform
import sys
from pathlib import Path

from course_utils import config

PARTS = ("recipes", "transfer", "tuning", "threads", "layout")


def env_int(name: str, default: int) -> int:
    """A whole number from the environment variable ``name`` (unset or blank: ``default``); names it when bad."""
    import os

    text = os.environ.get(name, "").strip()
    try:
        return int(text) if text else default
    except ValueError:
        raise ValueError(f"{name}: a whole number, got {text!r}") from None


def machine_description() -> str:
    import os

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return (f"{platform.machine()}, {os.cpu_count()} CPU cores" + (f", {len(gpus)} GPU(s)" if gpus else ", no GPU")
            + f", TensorFlow {tf.__version__}")


def main(argv: list[str] | None = None) -> int:
    parts = [p for p in (argv or []) if p] or list(PARTS)
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        print(f"unknown bench part(s) {unknown}; choose from {PARTS}", file=sys.stderr)
        return 2
    out_dir = config.repo_root() / "build" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"Benchmarks on {machine_description()}", flush=True)
    for part in parts:
        try:
            module = importlib.import_module(f"course_tools.bench.{part}")
        except ModuleNotFoundError:
            print(f"[bench] part {part!r} is not implemented yet", flush=True)
            continue
        rows = module.run(out_dir)
        print(json.dumps(rows, indent=1))
    return 0
