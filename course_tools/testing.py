"""``make test``: the unit tests, and every notebook executed once in smoke mode and checked by nbval.

papermill prepares each notebook (``prepare_only``: the smoke parameters injected, nothing run) into
``build/test/nbval/``; nbval executes those copies in the same pytest session, ahead of ``tests/``, in lax mode:
every cell must run without error, and each cell marked ``# NBVAL_CHECK_OUTPUT`` must print what the committed
notebook recorded (shapes, class names, counts). The copies write their metrics to ``build/test/smoke/`` and save
models in ``build/test/artifacts/``, as ``make course --mode smoke`` would.

This module is also a pytest plugin (the driver passes ``-p course_tools.testing``): it keeps what each nbval
run printed as an executed notebook beside its metrics, and ``tests/test_notebooks.py`` checks those (mode,
headline metric, accuracy against chance, data set) instead of executing the notebooks a second time.

The recorded outputs come from the real data sets. Without a local copy of them the notebooks run on the
embedded 'digits' fallback, where those outputs cannot match: the copies then lose their markers (every cell
still runs, nothing is compared), loudly. With ``COURSE_REQUIRE_REAL_DATA=1`` (the CI) missing data is an error.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_utils import config
from course_utils.data import local_copy_available
from .run import NotebookResult, format_table, list_notebooks

REAL_DATA = ("fashion_mnist", "mnist", "cifar10")
REQUIRE_REAL_DATA = "COURSE_REQUIRE_REAL_DATA"
CHECK_MARK = "NBVAL_CHECK_OUTPUT"


def real_data_required(environ=os.environ) -> bool:
    """True when a missing real data set must fail the tests rather than skip them (``COURSE_REQUIRE_REAL_DATA=1``)."""
    return environ.get(REQUIRE_REAL_DATA, "0").strip().lower() in ("1", "true", "yes")


def missing_real_data(reason: str) -> None:
    """Skip the calling test because real data is missing, or fail it when real data is required."""
    if real_data_required():
        pytest.fail(f"{reason} ({REQUIRE_REAL_DATA}=1: real data is required, nothing may be skipped)", pytrace=False)
    pytest.skip(reason)


def nbval_plan(missing: list[str], required: bool) -> str:
    """What nbval does: ``"check"`` the marked outputs, only ``"run"`` the notebooks (no real data), or ``"refuse"``."""
    if not missing:
        return "check"
    return "refuse" if required else "run"


class TestBuild:
    """The folders of one ``make test``: the prepared copies, the smoke run's metrics and executed notebooks, models."""
    __test__ = False  # not a test class, whatever its name

    def __init__(self, root: Path):
        self.root = Path(root)
        self.copies = self.root / "nbval"
        self.smoke = self.root / "smoke"
        self.artifacts = self.root / "artifacts"

    @classmethod
    def of_copy(cls, copy: Path) -> "TestBuild":
        return cls(Path(copy).resolve().parent.parent)


def _is_check_mark(line: str) -> bool:
    """nbval's reading of a marker: a comment line whose text, without the '#'s, is the marker."""
    line = line.strip()
    return line.startswith("#") and line.lstrip("#").strip() == CHECK_MARK


def strip_check_marks(nb) -> int:
    """Remove the ``# NBVAL_CHECK_OUTPUT`` lines and the recorded outputs: nbval then runs those cells unchecked."""
    stripped = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        lines = cell.source.splitlines()
        kept = [line for line in lines if not _is_check_mark(line)]
        if len(kept) != len(lines):
            cell.source = "\n".join(kept)
            cell.outputs, cell.execution_count = [], None
            stripped += 1
    return stripped


#: Notebooks whose smoke run in ``make test`` forces the GPU's dtype policy on the CPU, so that the mixed-precision
#: path (float16 layers, float32 outputs, Grad-CAM in 06, a pretrained backbone in 07) stays green without a GPU.
#: 05 and 08 are left in float32: emulated float16 doubles their time; tests/test_mixed_precision.py covers their code.
FORCED_PRECISION = {"04_cnn_architecture": "mixed_float16", "06_evaluation": "mixed_float16",
                    "07_transfer_learning": "mixed_float16"}


def prepare_for_nbval(build: TestBuild, notebooks: list[Path] | None = None, check_outputs: bool = True) -> list[Path]:
    """Fresh copies of ``notebooks`` with the smoke parameters injected, for nbval; an empty build around them."""
    import nbformat
    import papermill as pm

    shutil.rmtree(build.root, ignore_errors=True)  # no model or metrics left from an earlier run is reused
    for folder in (build.copies, build.smoke, build.artifacts):
        folder.mkdir(parents=True)
    parameters = {"MODE": "smoke", "BUILD_DIR": str(build.smoke.resolve()),
                  "ARTIFACTS_DIR": str(build.artifacts.resolve())}
    prepared = []
    for nb in list_notebooks() if notebooks is None else notebooks:
        target = build.copies / nb.name
        forced = {"PRECISION": FORCED_PRECISION[nb.stem]} if nb.stem in FORCED_PRECISION else {}
        copy = pm.execute_notebook(str(nb), None, parameters={**parameters, **forced}, prepare_only=True,
                                   kernel_name="python3", progress_bar=False)
        if not check_outputs:
            strip_check_marks(copy)
        nbformat.write(copy, target)
        prepared.append(target)
    return prepared


def command_line(prepared: list[Path], sanitize: Path, extra: list[str]) -> list[str]:
    """The notebooks first (their nbval items run in this order, before tests/), then the unit tests."""
    return [sys.executable, "-m", "pytest", "-p", "course_tools.testing", *map(str, prepared), "tests",
            "--nbval-lax", "--nbval-current-env", "--nbval-sanitize-with", str(sanitize), *extra]


def _banner(*lines: str) -> str:
    return "\n".join(["!" * 78, *[f"!! {line}" for line in lines], "!" * 78])


def main(argv: list[str] | None = None) -> int:
    root = config.repo_root()
    os.environ["COURSE_MODE"] = "smoke"
    os.environ.setdefault("COURSE_DOWNLOAD_TIMEOUT", "20")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("PYTHONHASHSEED", "0")
    missing = [name for name in REAL_DATA if not local_copy_available(name)]
    plan = nbval_plan(missing, real_data_required())
    if plan == "refuse":
        print(_banner(f"make test: no local copy of {', '.join(missing)} (COURSE_DATA_DIR="
                      f"{os.environ.get('COURSE_DATA_DIR') or 'unset'}), and {REQUIRE_REAL_DATA}=1.",
                      "Download them first: python -m course_utils.data download " + " ".join(missing)),
              file=sys.stderr, flush=True)
        return 2
    if plan == "run":
        print(_banner(f"nbval output checks SKIPPED: no local copy of {', '.join(missing)}; the outputs it compares "
                      "were recorded on the real data.",
                      "The notebooks still run once each (nbval, smoke mode); offline, on the embedded 'digits' fallback."),
              flush=True)
    build = TestBuild(root / "build" / "test")
    prepared = prepare_for_nbval(build, check_outputs=plan == "check")
    command = command_line(prepared, root / "tests" / "nbval_sanitize.cfg", list(argv or []))
    return subprocess.run(command, cwd=root).returncode


# --- the pytest plugin: each nbval run kept as an executed notebook ----------------------------------------------

_executed: dict[Path, dict] = {}  # prepared copy -> {"path": executed copy, "nb": its node, "seconds": cell time}


def _is_nbval_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell" and type(item).__module__.startswith("nbval")


def executed_notebook(stem: str) -> Path | None:
    """The executed copy nbval left for notebook ``stem`` in this pytest session, or None (it did not run it)."""
    found = [entry["path"] for copy, entry in _executed.items() if copy.stem == stem]
    return found[-1] if found else None


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _is_nbval_cell(item):
            item.add_marker(pytest.mark.notebooks)  # -m "not notebooks" leaves them out like the other slow tests


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    if not _is_nbval_cell(item):
        return (yield)
    start = time.perf_counter()
    try:
        return (yield)
    finally:
        _record(item, time.perf_counter() - start)


def _record(item, seconds: float) -> None:
    import nbformat

    copy = Path(item.path)
    entry = _executed.get(copy)
    if entry is None:
        nb = nbformat.read(copy, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        entry = _executed[copy] = {"path": TestBuild.of_copy(copy).smoke / copy.name, "nb": nb, "seconds": 0.0}
    entry["seconds"] += seconds
    cell = [c for c in entry["nb"].cells if c.cell_type == "code"][item.cell_num]
    cell.execution_count = item.cell_num + 1
    cell.outputs = [nbformat.from_dict(dict(out)) for out in (item.test_outputs or [])]
    entry["path"].parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(entry["nb"], entry["path"])


def pytest_terminal_summary(terminalreporter):
    if not _executed:
        return
    import json

    results = []
    for copy, entry in _executed.items():
        stem = copy.stem
        metrics_file = entry["path"].with_name(f"{stem}.metrics.json")
        metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
        errors = [o for c in entry["nb"].cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        error = f"{errors[0]['ename']}: {errors[0]['evalue']}" if errors else None
        results.append(NotebookResult(stem, entry["seconds"], metrics, entry["path"], error))
    terminalreporter.write_sep("=", "notebooks executed by nbval (once each), smoke mode")
    terminalreporter.write_line(format_table(results, "smoke"))
