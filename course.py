#!/usr/bin/env python3
"""One entry point for the course's commands; the Makefile targets are thin wrappers over it.

    python3 course.py course [--mode full|smoke|lecture] [--nb 05]   # = make course MODE=.. NB=..
    python3 course.py test [pytest args]                              # = make test
    python3 course.py bench [part ...]                                # = make bench
    python3 course.py exercises                                       # exercise copies, no solutions
    python3 course.py lab [jupyter lab args]                          # = make lab: JupyterLab in notebooks/

Each command first sets itself up: with no virtual environment active it creates ``.venv`` and installs
``requirements.txt`` and the course package there (again only when those files change), then runs
inside it. Only the standard library is used before that point, and the Python version is checked first.
On Windows, run ``py -3.12 course.py lab`` (or any command) in the course folder: no ``make`` needed.
"""
from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
SHARED_DATA = ROOT.parent / "shared" / "datasets"
#: Python versions the pinned requirements install on (TensorFlow 2.21 and NumPy 2.4 wheels): 3.11, 3.12, 3.13.
SUPPORTED_PYTHON = ((3, 11), (3, 13))
#: the course's Jupyter kernel, registered in .venv by the set-up; the notebooks' metadata name it
KERNEL_NAME, KERNEL_DISPLAY_NAME = "python3", "Python 3 (ipykernel)"


def check_python(version=sys.version_info[:2], system: str = platform.system(), machine: str = platform.machine()):
    """None when this Python can install the course's pinned requirements, else what to do instead."""
    low, high = SUPPORTED_PYTHON
    supported = f"Python {low[0]}.{low[1]} to {high[0]}.{high[1]}"
    if system == "Darwin" and machine == "x86_64":
        return (f"Intel macOS: TensorFlow publishes no wheels after 2.16 for this platform, and the course needs "
                f"2.21. Open the notebooks in Google Colab (each has an 'Open in Colab' badge), or use a Linux, "
                f"Windows or Apple-silicon machine with {supported}.")
    if not low <= tuple(version) <= high:
        found = ".".join(map(str, version))
        return (f"Python {found} cannot install the course's pinned requirements (TensorFlow 2.21 and NumPy 2.4 "
                f"publish wheels for {supported}). Run this command with one of those, e.g. "
                f"`python3.12 course.py ...` (install one from python.org, or `uv python install 3.12`, or pyenv), "
                f"or `make ... PYTHON=python3.12`.")
    return None


def venv_python(venv: Path = VENV, windows: bool = os.name == "nt") -> Path:
    return venv / ("Scripts/python.exe" if windows else "bin/python")


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
        if not venv_python().exists():
            print(f"[setup] creating virtual environment {VENV.name}/", flush=True)
            venv.EnvBuilder(with_pip=True).create(VENV)
        python = venv_python()
    stamp = Path(sys.prefix if _in_virtualenv() else VENV) / ".course-installed"
    if not stamp.exists() or stamp.read_text() != _install_stamp():
        print("[setup] installing requirements.txt and the course package (pip)", flush=True)
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.run(pip + ["-r", str(ROOT / "requirements.txt")], check=True)
        subprocess.run(pip + ["--no-deps", "-e", str(ROOT)], check=True)
        print(f"[setup] registering the Jupyter kernel {KERNEL_DISPLAY_NAME!r} of this environment", flush=True)
        subprocess.run([str(python), "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL_NAME,
                        "--display-name", KERNEL_DISPLAY_NAME], check=True, stdout=subprocess.DEVNULL)
        stamp.write_text(_install_stamp())
    if not _in_virtualenv():
        env = dict(os.environ, VIRTUAL_ENV=str(VENV), PATH=f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}")
        command = [str(python), str(Path(__file__).resolve()), *sys.argv[1:]]
        if os.name == "nt":  # os.execve does not replace the process on Windows: wait for the child instead
            sys.exit(subprocess.run(command, env=env).returncode)
        os.execve(str(python), command, env)


def start_lab(args: list[str]) -> int:
    """JupyterLab in notebooks/, with the course environment's own kernel (the one the notebooks name)."""
    import jupyter_client.kernelspec as kernelspec

    spec = kernelspec.KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    if spec.display_name != KERNEL_DISPLAY_NAME:
        print(f"[lab] warning: kernel {KERNEL_NAME!r} is {spec.display_name!r} here, the notebooks say "
              f"{KERNEL_DISPLAY_NAME!r}; saving a notebook will change its metadata", flush=True)
    overrides = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    if not overrides.exists():  # no "get notified about Jupyter news?" pop-up over the first lesson
        overrides.parent.mkdir(parents=True, exist_ok=True)
        overrides.write_text('{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}\n')
    print(f"[lab] JupyterLab in notebooks/ with kernel {KERNEL_DISPLAY_NAME!r} ({sys.executable}); "
          "Ctrl+C to stop", flush=True)
    return subprocess.run([sys.executable, "-m", "jupyterlab", *args], cwd=ROOT / "notebooks").returncode


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
    if command not in ("course", "test", "bench", "exercises", "setup", "lab"):
        print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
        return 2
    problem = check_python()
    if problem:
        print(f"[setup] {problem}", file=sys.stderr)
        return 3
    ensure_environment()
    if command == "setup":
        return 0
    os.chdir(ROOT)
    default_data_dir()
    if command == "lab":
        return start_lab(rest)
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
