"""``make test`` itself (course_tools.testing): which checks run when, the nbval copies, nbval on them, and the
real-data rule (``COURSE_REQUIRE_REAL_DATA=1``: missing data fails instead of skipping)."""
import json
import subprocess
from pathlib import Path

import nbformat
import pytest

from course_tools import testing
from course_tools.testing import TestBuild

ROOT = Path(__file__).resolve().parent.parent
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"
METRICS = """import json, os, pathlib
pathlib.Path(BUILD_DIR, "{stem}.metrics.json").write_text(json.dumps({"mode": MODE, "cwd": os.getcwd()}))"""


def committed_notebook(folder, stem, printed, recorded):
    """A lean committed notebook: parameters, one checked cell (``printed`` now, ``recorded`` in the file), metrics."""
    parameters = nbformat.v4.new_code_cell('MODE = "full"\nBUILD_DIR = None\nARTIFACTS_DIR = None',
                                           metadata={"tags": ["parameters"]})
    checked = nbformat.v4.new_code_cell(f'# NBVAL_CHECK_OUTPUT\nimport time\nprint({printed})\n'
                                        'print(f"took {time.time() % 7:.2f} s")', execution_count=1,
                                        outputs=[nbformat.v4.new_output("stream", name="stdout",
                                                                        text=f"{recorded}\ntook 0.5 s\n")])
    nb = nbformat.v4.new_notebook(cells=[parameters, checked, nbformat.v4.new_code_cell(METRICS.replace("{stem}", stem))],
                                  metadata={"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                                           "language": "python"}})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture
def notebooks(tmp_path):
    """01 prints what it recorded (apart from a time); 02 prints 4 classes where the real data gave 3."""
    folder = tmp_path / "notebooks"
    return [committed_notebook(folder, "01_same", '"classes:", 3', "classes: 3"),
            committed_notebook(folder, "02_other", '"classes:", 4', "classes: 3")]


def test_nbval_plan_checks_with_real_data_runs_without_and_refuses_when_required():
    assert testing.nbval_plan([], required=False) == testing.nbval_plan([], required=True) == "check"
    assert testing.nbval_plan(["cifar10"], required=False) == "run"
    assert testing.nbval_plan(["cifar10"], required=True) == "refuse"
    assert testing.real_data_required({"COURSE_REQUIRE_REAL_DATA": "1"})
    assert not testing.real_data_required({}) and not testing.real_data_required({"COURSE_REQUIRE_REAL_DATA": "0"})


def test_copies_carry_the_smoke_parameters_and_lose_the_markers_only_without_real_data(notebooks, tmp_path):
    build = TestBuild(tmp_path / "build")
    stale = build.artifacts / "smoke" / "old_model.keras"
    stale.parent.mkdir(parents=True)
    stale.write_text("from an earlier run")
    copies = testing.prepare_for_nbval(build, notebooks)
    assert copies == [build.copies / "01_same.ipynb", build.copies / "02_other.ipynb"]
    assert not stale.exists(), "a test build starts empty: no model of an earlier run is reused"
    copy = nbformat.read(copies[0], as_version=4)
    injected = [c for c in copy.cells if "injected-parameters" in c.metadata.get("tags", [])][0]
    assert 'MODE = "smoke"' in injected.source and f'BUILD_DIR = "{build.smoke.resolve()}"' in injected.source
    assert f'ARTIFACTS_DIR = "{build.artifacts.resolve()}"' in injected.source
    checked = copy.cells[2]
    assert checked.source.startswith("# NBVAL_CHECK_OUTPUT") and checked.outputs, "kept with the real data"

    unchecked = nbformat.read(testing.prepare_for_nbval(build, notebooks, check_outputs=False)[0], as_version=4)
    assert "NBVAL_CHECK_OUTPUT" not in unchecked.cells[2].source and unchecked.cells[2].outputs == []
    assert unchecked.cells[2].source == checked.source.split("\n", 1)[1], "the rest of the cell is unchanged"
    assert [c.source for c in unchecked.cells[3:]] == [c.source for c in copy.cells[3:]]


def test_nbval_executes_each_copy_once_and_checks_the_marked_outputs(notebooks, pytester, monkeypatch):
    """The driver's command on two builds: with real data (02's marked output differs: fails) and without (runs)."""
    monkeypatch.setattr(testing, "_executed", {})
    checked, unchecked = TestBuild(pytester.path / "checked"), TestBuild(pytester.path / "unchecked")
    copies = testing.prepare_for_nbval(checked, notebooks)
    copies += testing.prepare_for_nbval(unchecked, notebooks[1:], check_outputs=False)
    command = testing.command_line(copies, SANITIZE, [])
    assert command[command.index("-p") + 1] == "course_tools.testing"
    assert command.index(str(copies[-1])) < command.index("tests"), "the notebooks run before the unit tests"
    args = [a for a in command[command.index("-p"):] if a != "tests"]
    reprec = pytester.inline_run(*args)
    failures = reprec.getfailures()
    assert [(*Path(r.location[0]).parts[-3:], r.location[2]) for r in failures] == [
        ("checked", "nbval", "02_other.ipynb", "::Cell 2")], failures
    assert "Cell outputs differ" in str(failures[0].longrepr)
    assert len(reprec.listoutcomes()[0]) == 3 * 4 - 1, "every cell of the three copies ran (4 with the parameters)"

    for build, stem, classes in [(checked, "01_same", 3), (unchecked, "02_other", 4)]:
        metrics = json.loads((build.smoke / f"{stem}.metrics.json").read_text())
        assert metrics == {"mode": "smoke", "cwd": str(build.copies)}, "nbval runs the copy where it lies"
        executed = nbformat.read(build.smoke / f"{stem}.ipynb", as_version=4)
        assert executed.cells[2].outputs[0].text.startswith(f"classes: {classes}\ntook "), "what it printed, kept"
    assert testing.executed_notebook("02_other") == unchecked.smoke / "02_other.ipynb"
    assert testing.executed_notebook("03_never") is None

    deselected = pytester.runpytest_inprocess(*args, "-m", "not notebooks")
    deselected.assert_outcomes(deselected=12)


def _driver(monkeypatch, missing, required):
    """Run the driver with ``missing`` data sets and nothing executed; return what it prepared and ran."""
    calls = {"prepared": [], "ran": []}
    monkeypatch.setattr(testing, "local_copy_available", lambda name: name not in missing)
    for name in ("COURSE_MODE", "COURSE_DOWNLOAD_TIMEOUT", "TF_CPP_MIN_LOG_LEVEL", "PYTHONHASHSEED"):
        monkeypatch.delenv(name, raising=False)  # restored afterwards: main() sets them for the test session
    monkeypatch.setenv("COURSE_REQUIRE_REAL_DATA", "1" if required else "0")

    def prepare(build, notebooks=None, check_outputs=True):
        calls["prepared"].append((build.root, check_outputs))
        return [build.copies / "01_x.ipynb"]

    monkeypatch.setattr(testing, "prepare_for_nbval", prepare)
    monkeypatch.setattr(testing.subprocess, "run", lambda command, cwd: calls["ran"].append(command)
                        or subprocess.CompletedProcess(command, 0))
    calls["rc"] = testing.main(["-x"])
    return calls


def test_driver_with_real_data_checks_the_marked_outputs(monkeypatch, capsys):
    calls = _driver(monkeypatch, missing=[], required=True)
    assert calls["rc"] == 0 and calls["prepared"] == [(ROOT / "build" / "test", True)]
    [command] = calls["ran"]
    copy = str(ROOT / "build" / "test" / "nbval" / "01_x.ipynb")
    assert command.index(copy) < command.index("tests") and "--nbval-lax" in command and command[-1] == "-x"
    assert "SKIPPED" not in capsys.readouterr().out


def test_driver_without_real_data_runs_the_notebooks_unchecked_and_says_so(monkeypatch, capsys):
    calls = _driver(monkeypatch, missing=["cifar10"], required=False)
    assert calls["rc"] == 0 and calls["prepared"] == [(ROOT / "build" / "test", False)]
    assert "--nbval-lax" in calls["ran"][0], "nbval still executes every notebook"
    assert "nbval output checks SKIPPED: no local copy of cifar10" in capsys.readouterr().out


def test_driver_refuses_to_run_without_real_data_when_it_is_required(monkeypatch, capsys):
    calls = _driver(monkeypatch, missing=["mnist", "cifar10"], required=True)
    assert calls["rc"] != 0 and calls["prepared"] == [] and calls["ran"] == [], "fails before running anything"
    err = capsys.readouterr().err
    assert "no local copy of mnist, cifar10" in err and "COURSE_REQUIRE_REAL_DATA=1" in err
    assert "python -m course_utils.data download mnist cifar10" in err


@pytest.mark.parametrize("required,outcome", [("0", "skipped"), ("1", "errors")])
def test_real_data_fixture_skips_or_fails_when_real_data_is_required(required, outcome, pytester, monkeypatch):
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    pytester.makepyfile("def test_needs_data(shared_data):\n    pass\n")
    monkeypatch.setenv("COURSE_DATA_DIR", str(pytester.path / "no-data"))
    monkeypatch.setenv("COURSE_REQUIRE_REAL_DATA", required)
    result = pytester.runpytest_inprocess("-rs")
    result.assert_outcomes(**{outcome: 1})
    result.stdout.fnmatch_lines([f"*real data not found at {pytester.path / 'no-data'}*"])


def test_make_test_forces_mixed_precision_where_the_gpu_path_is_cheap_to_check(tmp_path):
    """04, 06 and 07 run under mixed_float16 in make test (the GPU's policy, emulated on the CPU); the others do not."""
    from course_tools.run import list_notebooks

    real = {nb.stem: nb for nb in list_notebooks()}
    assert set(testing.FORCED_PRECISION) <= set(real), "a forced notebook that does not exist"
    copies = testing.prepare_for_nbval(TestBuild(tmp_path / "build"), [real[s] for s in ("04_cnn_architecture",
                                                                                         "05_training")])
    injected = {copy.stem: [c.source for c in nbformat.read(copy, as_version=4).cells
                            if "injected-parameters" in c.metadata.get("tags", [])][0] for copy in copies}
    assert 'PRECISION = "mixed_float16"' in injected["04_cnn_architecture"]
    assert "PRECISION" not in injected["05_training"]
