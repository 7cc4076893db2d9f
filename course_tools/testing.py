"""``make test``: unit tests, every notebook in smoke mode (papermill), and nbval over the notebooks.

nbval cannot inject parameters, so each notebook is first prepared with papermill (``prepare_only``,
smoke parameters) into ``build/test/nbval/``; nbval then runs those copies in lax mode, checking only
the cells marked ``# NBVAL_CHECK_OUTPUT`` (shapes, class names, counts). Their recorded outputs come
from the real data sets, so without them nbval is skipped, loudly.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from course_utils import config
from course_utils.data import local_copy_available
from .run import list_notebooks

REAL_DATA = ("fashion_mnist", "mnist", "cifar10")


def prepare_for_nbval(out_dir: Path) -> list[Path]:
    import papermill as pm

    out_dir.mkdir(parents=True, exist_ok=True)
    prepared = []
    for nb in list_notebooks():
        target = out_dir / nb.name
        pm.execute_notebook(str(nb), str(target), parameters={"MODE": "smoke"}, prepare_only=True,
                            kernel_name="python3", progress_bar=False)
        prepared.append(target)
    return prepared


def main(argv: list[str] | None = None) -> int:
    root = config.repo_root()
    os.environ["COURSE_MODE"] = "smoke"
    os.environ.setdefault("COURSE_DOWNLOAD_TIMEOUT", "20")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("PYTHONHASHSEED", "0")
    args = [sys.executable, "-m", "pytest", "tests"]
    missing = [name for name in REAL_DATA if not local_copy_available(name)]
    if missing:
        print("!" * 78 + f"\n!! nbval SKIPPED: no local copy of {', '.join(missing)}; the outputs it checks were "
              "recorded on the real data.\n!! Notebooks still run (smoke tests), on the embedded 'digits' "
              "fallback.\n" + "!" * 78, flush=True)
    else:
        nbval_dir = root / "build" / "test" / "nbval"
        prepared = prepare_for_nbval(nbval_dir)
        env_sanitize = root / "tests" / "nbval_sanitize.cfg"
        args += [str(p) for p in prepared] + ["--nbval-lax", "--nbval-current-env",
                                             "--nbval-sanitize-with", str(env_sanitize)]
    result = subprocess.run(args + list(argv or []), cwd=root)
    return result.returncode
