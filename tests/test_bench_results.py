"""Recorded benchmark results and the README tables generated from them (course_tools.bench.results)."""
import json
from pathlib import Path

import pytest

from course_tools.bench import results

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_tables_are_the_recorded_results():
    text = (ROOT / "README.md").read_text()
    blocks = results.readme_blocks(text)
    assert {(part, dataset) for part, dataset, _ in blocks} == {("recipes", "fashion_mnist"), ("recipes", "cifar10")}
    for part, dataset, table in blocks:
        assert table == results.render(part, dataset), (
            f"README's {part}/{dataset} table differs from results/bench/{part}.json: "
            "run `python -m course_tools.bench.results readme`")


def _rows(dataset="fashion_mnist", **extra):
    return [{"dataset": dataset, "recipe": "reference", "test_accuracy": 0.9, "wall_seconds": 100.0, "epochs": 5, **extra},
            {"dataset": dataset, "recipe": "course", "test_accuracy": 0.925, "wall_seconds": 90.0, "epochs": 4}]


def test_promote_replaces_the_run_of_the_same_data_set_and_keeps_the_others(tmp_path):
    build = tmp_path / "recipes.json"
    build.write_text(json.dumps(_rows("cifar10")))
    results.promote("recipes", build, "first", root=tmp_path)
    build.write_text(json.dumps(_rows()))
    results.promote("recipes", build, "second", root=tmp_path)
    build.write_text(json.dumps(_rows()[:1]))
    path = results.promote("recipes", build, "third", root=tmp_path)
    runs = json.loads(path.read_text())["runs"]
    assert [(r["recorded"], r["datasets"]) for r in runs] == [("first", ["cifar10"]), ("third", ["fashion_mnist"])]


def test_promote_keeps_the_other_data_sets_of_a_run_that_measured_both(tmp_path):
    build = tmp_path / "recipes.json"
    build.write_text(json.dumps(_rows() + _rows("cifar10")))
    results.promote("recipes", build, "both", root=tmp_path)
    build.write_text(json.dumps(_rows("cifar10", wall_seconds=80.0)))
    path = results.promote("recipes", build, "cifar again", root=tmp_path)
    runs = json.loads(path.read_text())["runs"]
    assert [(r["recorded"], r["datasets"]) for r in runs] == [("both", ["fashion_mnist"]),
                                                              ("cifar again", ["cifar10"])]
    assert runs[0]["rows"] == _rows() and runs[1]["rows"] == _rows("cifar10", wall_seconds=80.0)


@pytest.mark.parametrize("rows", [_rows("digits"), _rows(error="boom"), []], ids=["fallback", "error", "empty"])
def test_promote_refuses_what_is_not_a_real_measurement(tmp_path, rows):
    build = tmp_path / "recipes.json"
    build.write_text(json.dumps(rows))
    with pytest.raises(SystemExit, match="recipes.json"):
        results.promote("recipes", build, "x", root=tmp_path)
    assert not (tmp_path / "results").exists(), "nothing recorded"


def test_tables_judge_rows_against_the_targets(tmp_path):
    build = tmp_path / "recipes.json"
    rows = _rows()
    rows[1].update(recipe="course_fast", test_accuracy=0.94, wall_seconds=150.0)  # accurate, slower than 1x
    build.write_text(json.dumps(rows))
    results.promote("recipes", build, "when", root=tmp_path)
    table = results.render("recipes", "fashion_mnist", root=tmp_path)
    assert "| course_fast | – | – | 94.00% | 150 | 4 | 1.50 | – | – | ≥ 93.5%, ≤ 1× reference time | **no** |" in table
    assert "| reference | – | – | 90.00% | 100 | 5 | 1.00 | – | – | ≥ 90.5% | **no** |" in table
    assert "no recorded run for cifar10" in results.render("recipes", "cifar10", root=tmp_path)


def test_tables_show_the_mean_and_spread_over_seeds_and_the_machine(tmp_path):
    def row(recipe, seed, test, seconds):
        return {"dataset": "cifar10", "recipe": recipe, "seed": seed, "test_accuracy": test,
                "validation_accuracy": test + 0.01, "wall_seconds": seconds, "epochs": 10,
                "images_per_second": 1000.0, "gflops_per_second": 50.0, "share_of_matmul": 0.25,
                "machine_matmul_gflops": 200.0, "machine_matmul_gflops_end": 190.0}

    rows = [row("reference", 1, 0.66, 100.0), row("course_fast", 1, 0.86, 300.0),
            row("reference", 2, 0.66, 100.0), row("course_fast", 2, 0.84, 400.0), row("course", 1, 0.83, 500.0)]
    build = tmp_path / "recipes.json"
    build.write_text(json.dumps(rows))
    results.promote("recipes", build, "when", root=tmp_path)
    table = results.render("recipes", "cifar10", root=tmp_path)
    assert ("| course_fast | 2 | 86.00% ± 1.41% | 85.00% ± 1.41% | 350 ± 71 | 10 | 3.50 ± 0.71 | 1000 | 50 (25%) "
            "| ≥ 85.0%, ≤ 3.5× reference time | yes |") in table
    assert "200 GFLOP/s at its start, 190 at its end" in table
    assert "Accuracy–time curves" not in table, "no curve recorded, none shown"
    assert "| course | 1 | 84.00% | 83.00% | 500 | 10 | 5.00 | 1000 | 50 (25%) | – | – |" in table, "no target: no verdict"


def test_promote_refuses_a_development_run_without_test_scores(tmp_path):
    rows = _rows()
    rows[1]["test_accuracy"] = None
    build = tmp_path / "recipes.json"
    build.write_text(json.dumps(rows))
    with pytest.raises(SystemExit, match="unscored"):
        results.promote("recipes", build, "x", root=tmp_path)


def test_sync_rewrites_only_the_marked_blocks(tmp_path):
    build = tmp_path / "recipes.json"
    build.write_text(json.dumps(_rows()))
    results.promote("recipes", build, "when", root=tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench-table recipes fashion_mnist -->\nstale\n<!-- /bench-table -->\nend\n")
    assert results.sync_readme(readme, root=tmp_path)
    text = readme.read_text()
    assert "stale" not in text and "| course | – | – | 92.50% |" in text and text.startswith("intro\n") and text.endswith("end\n")
    assert not results.sync_readme(readme, root=tmp_path), "a second run changes nothing"


def test_tables_show_the_accuracy_time_curve_of_the_first_seed(tmp_path):
    rows = _rows()
    for r, accuracy in zip(rows, (0.8, 0.9)):
        r.update(seed=1, curve=[{"epoch": 1, "train_seconds": 10.4, "validation_accuracy": accuracy - 0.1},
                                {"epoch": 2, "train_seconds": 20.0, "validation_accuracy": accuracy}])
    rows.append(dict(rows[1], seed=2, curve=[{"epoch": 1, "train_seconds": 99.0, "validation_accuracy": 0.5}]))
    build = tmp_path / "recipes.json"
    build.write_text(json.dumps(rows))
    results.promote("recipes", build, "when", root=tmp_path)
    table = results.render("recipes", "fashion_mnist", root=tmp_path)
    assert "curves (seed 1)" in table
    assert "- `reference`: 10 s 70.0%, 20 s 80.0%" in table and "- `course`: 10 s 80.0%, 20 s 90.0%" in table
    assert "99 s" not in table, "one seed's curves only"
