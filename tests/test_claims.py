"""Figures stated in the notebooks' text agree with what the notebooks measured in a full run."""
import json
import re

import nbformat
import pytest

from course_tools.claims import Claim, check_claims, claims_in, results_file
from course_tools.run import list_notebooks

NOTEBOOKS = list_notebooks()


def test_claim_syntax_is_parsed(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "reaches about 84% <!-- claim: test_accuracy = 0.84 ± 0.02 --> and more")])
    path = tmp_path / "09_x.ipynb"
    nbformat.write(nb, path)
    assert claims_in(path) == [Claim("09_x", "test_accuracy", 0.84, 0.02)]
    assert check_claims([path], {"09_x": {"test_accuracy": 0.851}}) == []
    assert "measured 0.8000" in check_claims([path], {"09_x": {"test_accuracy": 0.80}})[0]
    assert "no such metric" in check_claims([path], {"09_x": {}})[0]
    assert "no full-mode metrics" in check_claims([path], {})[0]


def test_prose_numbers_match_recorded_full_run():
    recorded = json.loads(results_file().read_text())
    with_claims = [nb for nb in NOTEBOOKS if claims_in(nb)]
    assert with_claims, "at least the notebooks that state results carry claims"
    assert check_claims(NOTEBOOKS, recorded) == []


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_claim_markers_leave_no_stray_space(nb):
    """A hidden marker goes right after its figure: "84%<!-- claim ... -->," renders as "84%,", not "84% ,"."""
    for cell in nbformat.read(nb, as_version=4).cells:
        if cell.cell_type == "markdown":
            assert not re.search(r"[ \t]<!--\s*claim:", cell.source), f"{nb.name}: space before a claim marker"


def _summary(tmp_path, rows, mode="full"):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"mode": mode, "notebooks": rows}))
    return path


def _row(nb, dataset="fashion_mnist", error=None):
    return {"notebook": nb, "error": error, "metrics": {"dataset": dataset, "mode": "full", "test_accuracy": 0.9}}


def test_promoting_metrics_refuses_partial_failed_fallback_or_other_mode_runs(tmp_path, monkeypatch):
    from course_tools import claims

    monkeypatch.setattr(claims, "results_file", lambda: tmp_path / "results" / "metrics-full.json")
    every = ["01_a", "02_b"]
    for rows, mode, why in [([_row("01_a")], "full", "02_b: not in this run"),
                            ([_row("01_a"), _row("02_b", error="boom")], "full", "02_b: failed"),
                            ([_row("01_a"), _row("02_b", dataset="digits")], "full", "02_b: ran on the fallback"),
                            ([_row("01_a"), _row("02_b")], "smoke", "not 'full'")]:
        with pytest.raises(SystemExit, match=why):
            claims.record_full_metrics(_summary(tmp_path, rows, mode), every)
        assert not (tmp_path / "results").exists(), "nothing written"
    path = claims.record_full_metrics(_summary(tmp_path, [_row("01_a"), _row("02_b")]), every)
    assert set(json.loads(path.read_text())) == {"01_a", "02_b"}


def test_promoting_only_some_notebooks_keeps_the_others_recorded(tmp_path, monkeypatch):
    from course_tools import claims

    monkeypatch.setattr(claims, "results_file", lambda: tmp_path / "results" / "metrics-full.json")
    every = ["01_a", "02_b", "03_c"]
    claims.record_full_metrics(_summary(tmp_path, [_row(nb) for nb in every]), every)
    new_b = dict(_row("02_b"), metrics={"dataset": "fashion_mnist", "mode": "full", "test_accuracy": 0.95})
    with pytest.raises(SystemExit, match="03_c: not in this run"):
        claims.record_full_metrics(_summary(tmp_path, [new_b]), every, only=["02_b", "03_c"])
    with pytest.raises(SystemExit, match="no such notebook"):
        claims.record_full_metrics(_summary(tmp_path, [new_b]), every, only=["09_z"])
    with pytest.raises(SystemExit, match="02_b: ran on the fallback"):
        claims.record_full_metrics(_summary(tmp_path, [_row("02_b", dataset="digits")]), every, only=["02_b"])
    path = claims.record_full_metrics(_summary(tmp_path, [new_b, _row("01_a", error="ignored: not promoted")]),
                                      every, only=["02_b"])
    recorded = json.loads(path.read_text())
    assert recorded["02_b"]["test_accuracy"] == 0.95
    assert recorded["01_a"]["test_accuracy"] == 0.9 and set(recorded) == set(every)


def test_a_full_course_run_fails_when_prose_and_measurement_disagree(tmp_path, monkeypatch):
    from course_tools import claims
    from course_tools import run as runner

    nb = tmp_path / "09_x.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "about 90%<!-- claim: test_accuracy = 0.90 ± 0.01 -->")]), nb)
    measured = {"test_accuracy": 0.5, "dataset": "fashion_mnist", "mode": "full"}
    monkeypatch.setattr(runner, "list_notebooks", lambda selection=None: [nb])
    monkeypatch.setattr(runner, "execute_notebook", lambda path, mode, out_dir, artifacts, parameters=None:
                        runner.NotebookResult(path.stem, 1.0, dict(measured), out_dir / path.name))
    before = results_file().read_text()
    results, problems = runner.run_course("full", build_root=tmp_path / "build", html=False)
    assert problems and "measured 0.5000" in problems[0]
    assert results_file().read_text() == before, "a course run never rewrites the recorded results"
    measured["test_accuracy"] = 0.9
    assert runner.run_course("full", build_root=tmp_path / "build", html=False)[1] == []
    # promoting that run records what the runner's summary.json holds, and the prose then checks against it
    monkeypatch.setattr(claims, "results_file", lambda: tmp_path / "results" / "metrics-full.json")
    recorded = json.loads(claims.record_full_metrics(tmp_path / "build" / "full" / "summary.json", ["09_x"]).read_text())
    assert recorded == {"09_x": measured}
    assert check_claims([nb], recorded) == []
