"""The course runner (course_tools.run), its summary, the rendered site and the recording of expected outputs,
on tiny fake notebooks executed by the real papermill and kernel (each module run starts four kernels)."""
import contextlib
import io
import json
import os
import shutil

import nbformat
import pytest

from course_tools import record
from course_tools import run as runner

PARAMETERS = 'MODE = "full"\nBUILD_DIR = None\nARTIFACTS_DIR = None\nDATASET = "fashion_mnist"'
WRITE_METRICS = """import json, os, pathlib
seen = {"cwd": os.getcwd(), "COURSE_MODE": os.environ.get("COURSE_MODE"),
        "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED"), "artifacts": str(pathlib.Path(ARTIFACTS_DIR).resolve())}
pathlib.Path(BUILD_DIR).mkdir(parents=True, exist_ok=True)
metrics = {"headline_metric": "test_accuracy", "test_accuracy": 0.9, "dataset": DATASET, "mode": MODE, "seen": seen}
(pathlib.Path(BUILD_DIR) / "{stem}.metrics.json").write_text(json.dumps(metrics))"""


def fake_notebook(folder, stem, *sources):
    """A notebook with a tagged parameters cell, then one code cell per source."""
    parameters = nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]})
    cells = [nbformat.v4.new_markdown_cell(f"# {stem}"), parameters]
    cells += [nbformat.v4.new_code_cell(source.replace("{stem}", stem)) for source in sources]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}})
    path = folder / f"{stem}.ipynb"
    nbformat.write(nb, path)
    return path


def fake_course(folder):
    folder.mkdir(parents=True, exist_ok=True)
    return [fake_notebook(folder, "01_ok", '# NBVAL_CHECK_OUTPUT\nprint("classes:", 3)', "print('not checked')",
                          WRITE_METRICS),
            fake_notebook(folder, "02_fails", 'raise ValueError("boom in cell two")', WRITE_METRICS),
            fake_notebook(folder, "03_no_metrics", "x = 1")]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """``make course --mode smoke`` over the fake course: three notebooks (one fails, one writes no metrics)."""
    root = tmp_path_factory.mktemp("course")
    notebooks = root / "notebooks"
    fake_course(notebooks)
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner, "notebooks_dir", lambda: notebooks)
        mp.delenv("COURSE_MODE", raising=False)
        environ = dict(os.environ)
        with contextlib.redirect_stdout(printed):
            results, problems = runner.run_course("smoke", build_root=root / "build", html=True)
        environ_after = dict(os.environ)
    return {"root": root, "notebooks": notebooks, "build": root / "build", "results": {r.notebook: r for r in results},
            "problems": problems, "printed": printed.getvalue(), "environ_changed": environ_after != environ}


def test_runner_injects_the_parameters_and_reads_the_metrics(course):
    ok = course["results"]["01_ok"]
    assert ok.error is None
    assert ok.metrics["mode"] == "smoke" and ok.metrics["dataset"] == "fashion_mnist"
    seen = ok.metrics["seen"]
    assert seen["cwd"] == str(course["notebooks"]), "a notebook runs in its own folder"
    assert seen["COURSE_MODE"] == "smoke" and seen["PYTHONHASHSEED"] == "0"
    assert seen["artifacts"] == str((course["build"] / "artifacts").resolve()), "one artifacts folder per run"
    assert not course["environ_changed"], "the runner's environment changes end with the run"
    assert ok.headline == "test_accuracy = 0.9000 [fashion_mnist]"
    executed = nbformat.read(ok.output, as_version=4)
    assert ok.output == course["build"] / "smoke" / "01_ok.ipynb"
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'MODE = "smoke"' in injected[0].source


def test_runner_surfaces_a_failing_cell_and_keeps_its_output(course):
    failed = course["results"]["02_fails"]
    assert failed.error.startswith("PapermillExecutionError") and "boom in cell two" in failed.error
    assert failed.headline == f"FAILED: {failed.error}"
    assert failed.metrics == {}, "the cells after the failing one did not run"
    executed = nbformat.read(failed.output, as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert [e.evalue for e in errors] == ["boom in cell two"], "the executed copy shows the error"


def test_runner_reports_a_notebook_that_wrote_no_metrics(course):
    quiet = course["results"]["03_no_metrics"]
    assert quiet.error == "03_no_metrics.ipynb wrote no metrics file (03_no_metrics.metrics.json)"


def test_summary_json_and_table(course):
    summary = json.loads((course["build"] / "smoke" / "summary.json").read_text())
    assert summary["mode"] == "smoke"
    assert [row["notebook"] for row in summary["notebooks"]] == ["01_ok", "02_fails", "03_no_metrics"]
    for row in summary["notebooks"]:
        result = course["results"][row["notebook"]]
        assert row == {"notebook": result.notebook, "seconds": round(result.seconds, 1), "headline": result.headline,
                       "metrics": result.metrics, "error": result.error, "output": f"{result.notebook}.ipynb"}
    printed = course["printed"]
    assert "1/3 notebooks succeeded" in printed
    table = printed[printed.index("Course run, mode=smoke"):]
    assert table.index("01_ok") < table.index("02_fails") < table.index("03_no_metrics")
    assert course["problems"] == [], "smoke runs are not checked against the prose"


def test_running_one_notebook_updates_its_row_and_keeps_the_others(course, tmp_path, monkeypatch):
    build = tmp_path / "build"
    shutil.copytree(course["build"], build)
    monkeypatch.setattr(runner, "notebooks_dir", lambda: course["notebooks"])
    monkeypatch.setattr(runner, "execute_notebook", lambda path, mode, out_dir, artifacts, parameters=None:
                        runner.NotebookResult(path.stem, 2.0, {"headline_metric": "x", "x": 1}, out_dir / path.name))
    with contextlib.redirect_stdout(io.StringIO()):
        assert runner.main(["--mode", "smoke", "--nb", "01", "--build-dir", str(build), "--no-html"]) == 0
        assert runner.main(["--mode", "smoke", "--nb", "03", "--build-dir", str(build), "--no-html"]) == 0
    rows = {row["notebook"]: row for row in json.loads((build / "smoke" / "summary.json").read_text())["notebooks"]}
    assert rows["01_ok"]["headline"] == rows["03_no_metrics"]["headline"] == "x = 1"
    assert rows["02_fails"]["error"] == course["results"]["02_fails"].error, "the row of a notebook not run is kept"
    monkeypatch.setattr(runner, "execute_notebook", lambda path, mode, out_dir, artifacts, parameters=None:
                        runner.NotebookResult(path.stem, 2.0, {}, out_dir / path.name, "boom"))
    with contextlib.redirect_stdout(io.StringIO()):
        assert runner.main(["--mode", "smoke", "--nb", "01", "--build-dir", str(build), "--no-html"]) == 1


def test_site_has_a_page_per_executed_notebook_and_an_index_in_course_order(course):
    site = course["build"] / "site"
    index = (site / "index.html").read_text()
    for stem in ("01_ok", "02_fails", "03_no_metrics"):
        assert f'<a href="{stem}.html">{stem}</a>' in index and (site / f"{stem}.html").exists()
    assert index.index("01_ok") < index.index("02_fails") < index.index("03_no_metrics")
    assert index.count("<tr class='failed'>") == 2 and index.count("<tr class='ok'>") == 1
    assert "boom in cell two" in index, "the failure's message is in the index"
    page = (site / "01_ok.html").read_text()
    assert "classes: 3" in page and "not checked" in page, "a page shows the notebook's outputs"
    assert "boom in cell two" in (site / "02_fails.html").read_text()


def test_record_keeps_only_the_checked_outputs(tmp_path, monkeypatch):
    nb = fake_course(tmp_path / "notebooks")[0]
    monkeypatch.setattr(record, "list_notebooks", lambda selection=None: [nb])
    source_before = [c.source for c in nbformat.read(nb, as_version=4).cells]
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert record.main(["01"]) == 0
    assert "01_ok.ipynb: recorded" in printed.getvalue()
    recorded = nbformat.read(nb, as_version=4)
    assert [c.source for c in recorded.cells] == source_before, "no injected parameters, sources unchanged"
    checked, unchecked, metrics = recorded.cells[2:]
    assert checked.execution_count == 1 and [o.text for o in checked.outputs] == ["classes: 3\n"]
    for cell in (unchecked, metrics):
        assert cell.outputs == [] and cell.execution_count is None
    text = nb.read_text()
    assert "papermill" not in text and str(tmp_path) not in text, "no run metadata, no machine path"


@pytest.mark.parametrize("result,why", [
    (runner.NotebookResult("01_ok", 1.0, {}, None, "PapermillExecutionError: boom"), "FAILED, not recorded"),
    (runner.NotebookResult("01_ok", 1.0, {"dataset": "digits"}, None), "ran on the digits fallback"),
])
def test_record_refuses_a_failed_or_fallback_run(result, why, tmp_path, monkeypatch):
    nb = fake_course(tmp_path / "notebooks")[0]
    before = nb.read_text()
    monkeypatch.setattr(record, "list_notebooks", lambda selection=None: [nb])
    monkeypatch.setattr(record, "execute_notebook", lambda *args, **kwargs: result)
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert record.main(["01"]) == 1
    assert why in printed.getvalue() and nb.read_text() == before
