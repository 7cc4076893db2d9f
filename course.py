#!/usr/bin/env python3
"""One entry point for the course's commands; the Makefile targets are thin wrappers over it.

    python3 course.py course [--mode full|smoke|lecture] [--nb 05]   # = make course MODE=.. NB=..
    python3 course.py test [pytest args]                              # = make test
    python3 course.py bench [part ...]                                # = make bench
    python3 course.py exercises                                       # exercise copies, no solutions

Each command first sets itself up: with no virtual environment active it creates ``.venv`` and installs
``requirements.txt`` and the course package there (again only when those files change), then runs
inside it. Only the standard library is used before that point.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
SHARED_DATA = ROOT.parent / "shared" / "datasets"


def _in_virtualenv() -> bool:
    return sys.prefix != getattr(sys, "base_prefix", sys.prefix)


def _install_stamp() -> str:
    h = hashlib.sha256()
    for name in ("requirements.txt", "pyproject.toml"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def ensure_environment() -> None:
    """Create/update the environment if needed, then re-run this command inside it."""
    if os.environ.get("COURSE_SKIP_SETUP") == "1":
        return
    if _in_virtualenv():
        python = Path(sys.executable)
    else:
        if not (VENV / "bin" / "python").exists():
            print(f"[setup] creating virtual environment {VENV.name}/", flush=True)
            venv.EnvBuilder(with_pip=True).create(VENV)
        python = VENV / "bin" / "python"
    stamp = Path(sys.prefix if _in_virtualenv() else VENV) / ".course-installed"
    if not stamp.exists() or stamp.read_text() != _install_stamp():
        print("[setup] installing requirements.txt and the course package (pip)", flush=True)
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.run(pip + ["-r", str(ROOT / "requirements.txt")], check=True)
        subprocess.run(pip + ["--no-deps", "-e", str(ROOT)], check=True)
        stamp.write_text(_install_stamp())
    if not _in_virtualenv():
        env = dict(os.environ, VIRTUAL_ENV=str(VENV), PATH=f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
        os.execve(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]], env)


def default_data_dir() -> None:
    """Point the data layer at ../shared/datasets when it exists and nothing else was chosen."""
    if not os.environ.get("COURSE_DATA_DIR") and SHARED_DATA.is_dir():
        os.environ["COURSE_DATA_DIR"] = str(SHARED_DATA)
    where = os.environ.get("COURSE_DATA_DIR")
    print(f"[data] COURSE_DATA_DIR={where}" if where else
          "[data] no COURSE_DATA_DIR and no ../shared/datasets: local datasets/, then downloads, "
          "then the embedded 'digits' fallback", flush=True)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    if command not in ("course", "test", "bench", "exercises", "setup"):
        print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
        return 2
    ensure_environment()
    if command == "setup":
        return 0
    os.chdir(ROOT)
    default_data_dir()
    if command == "course":
        from course_tools.run import main as run_main
        return run_main(rest)
    if command == "test":
        from course_tools.testing import main as test_main
        return test_main(rest)
    if command == "bench":
        from course_tools.bench import main as bench_main
        return bench_main(rest)
    from course_tools.exercises import main as exercises_main
    return exercises_main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
