"""make bench PART=recipes (course_tools.bench.recipes): the validation split, seeds, rates and ratios, the table."""
import dataclasses
import json

import numpy as np
import pytest

from course_tools.bench import recipes
from course_utils import data, evaluate, train


def test_validation_split_is_stratified_disjoint_and_fixed():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), [100, 200, 300, 400])
    x = rng.permutation(len(y))  # each "image" is its own id
    (x_fit, y_fit), (x_val, y_val) = recipes.split_validation(x, y[x], 100)
    assert len(x_val) == 100 and len(x_fit) == 900
    assert not set(x_fit) & set(x_val) and set(x_fit) | set(x_val) == set(range(1000))
    assert np.bincount(y_val).tolist() == [10, 20, 30, 40], "every class in proportion"
    assert np.array_equal(y[x_val], y_val) and np.array_equal(y[x_fit], y_fit), "images keep their labels"
    again = recipes.split_validation(x, y[x], 100)
    assert np.array_equal(again[1][0], x_val), "the same validation images every time"
    (x_all, _), (x_none, _) = recipes.split_validation(x, y[x], 0)
    assert len(x_all) == 1000 and len(x_none) == 0
    with pytest.raises(ValueError, match="validation split"):
        recipes.split_validation(x, y[x], 1000)


def test_seeds_and_validation_size_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("COURSE_BENCH_SEEDS", raising=False)
    assert recipes.selected_seeds() == [42]
    monkeypatch.setenv("COURSE_BENCH_SEEDS", "42, 43,44")
    assert recipes.selected_seeds() == [42, 43, 44]
    for bad in ("42,x", "1,1"):
        monkeypatch.setenv("COURSE_BENCH_SEEDS", bad)
        with pytest.raises(ValueError, match="COURSE_BENCH_SEEDS"):
            recipes.selected_seeds()
    monkeypatch.delenv("COURSE_BENCH_VALIDATION", raising=False)
    assert recipes.validation_images() == recipes.VALIDATION_IMAGES
    monkeypatch.setenv("COURSE_BENCH_VALIDATION", "0")
    assert recipes.validation_images() == 0
    monkeypatch.setenv("COURSE_BENCH_TEST", "0")
    assert not recipes.scores_test()
    monkeypatch.delenv("COURSE_BENCH_TEST")
    assert recipes.scores_test()


def _row(recipe, seed, test, seconds, val=None, dataset="cifar10"):
    return {"dataset": dataset, "recipe": recipe, "seed": seed, "test_accuracy": test, "validation_accuracy": val,
            "wall_seconds": seconds, "epochs": 10}


def test_ratios_compare_each_seed_with_its_own_reference_and_summaries_judge_the_means():
    rows = recipes.add_ratios([_row("reference", 1, 0.66, 100.0), _row("course_fast", 1, 0.86, 300.0, 0.87),
                               _row("reference", 2, 0.67, 200.0), _row("course_fast", 2, 0.84, 800.0, 0.85)])
    assert [r["time_ratio_to_reference"] for r in rows] == [1.0, 3.0, 1.0, 4.0]
    ref, course = recipes.summarize(rows)
    assert course["seeds"] == [1, 2] and course["test_accuracy"] == pytest.approx(0.85)
    assert course["test_accuracy_std"] == pytest.approx(np.std([0.86, 0.84], ddof=1))
    assert course["validation_accuracy"] == pytest.approx(0.86) and ref["validation_accuracy"] is None
    assert course["time_ratio_to_reference"] == pytest.approx(3.5)
    assert course["verdict"] == "ok", "85% at 3.5x the reference meets the CIFAR-10 target"
    assert recipes.verdict("cifar10", "course_fast", 0.85, 3.6) == "MISSED"
    assert recipes.verdict("cifar10", "course_fast", 0.849, 3.0) == "MISSED"
    assert recipes.verdict("cifar10", "course_fast", None, 1.0) == "not scored"
    table = recipes.format_table(rows)
    assert "mean ± std over seeds" in table and "3.50±0.71" in table and "85.00%±1.41%" in table


def test_a_single_seed_table_has_no_summary_lines():
    rows = recipes.add_ratios([_row("reference", 42, 0.9, 100.0, dataset="fashion_mnist"),
                               _row("course", 42, 0.94, 90.0, 0.95, dataset="fashion_mnist")])
    table = recipes.format_table(rows)
    assert "mean ± std" not in table
    assert "94.00%" in table and "95.00%" in table and "0.90" in table and "[ok]" in table


@pytest.fixture
def tiny_bench(monkeypatch, random_dataset):
    """The bench on 200 random 28×28 images, the two Fashion-MNIST recipes for one epoch, a fake matmul rate."""
    ds = random_dataset("fashion_mnist", 200, 30, (28, 28))
    monkeypatch.setattr(data, "load_dataset", lambda name, **kw: ds)
    rates = iter([200.0, 150.0])
    monkeypatch.setattr(recipes.machine, "matmul_gflops", lambda *a, **kw: next(rates))
    monkeypatch.setattr(train, "RECIPES", {
        key: dataclasses.replace(r, batch_size=50) for key, r in train.RECIPES.items()
        if key in {("fashion_mnist", "reference"), ("fashion_mnist", "course")}})
    for var in ("COURSE_BENCH_RECIPES", "COURSE_BENCH_CURVE", "COURSE_BENCH_TEST", "COURSE_BENCH_SEEDS",
                "COURSE_BENCH_ONE_SEED"):
        monkeypatch.delenv(var, raising=False)
    scored = []
    real = evaluate.predict_proba

    def counting(model, x, *args, **kwargs):
        scored.append(len(x))
        return real(model, x, *args, **kwargs)

    monkeypatch.setattr(evaluate, "predict_proba", counting)
    return ds, scored


def test_bench_rows_carry_validation_test_rates_and_ratios(tiny_bench, tmp_path):
    ds, scored = tiny_bench
    rows = recipes.run(tmp_path, datasets=["fashion_mnist"], epochs=1, seeds=[1, 2], validation=40)
    assert [(r["recipe"], r["seed"]) for r in rows] == [("reference", 1), ("course", 1), ("reference", 2),
                                                        ("course", 2)]
    for r in rows:
        assert 0 <= r["validation_accuracy"] <= 1 and 0 <= r["test_accuracy"] <= 1
        assert r["validation_images"] == 40
        assert r["machine_matmul_gflops"] == 200.0 and r["machine_matmul_gflops_end"] == 150.0
        images = r["train_images"] * r["epochs"]  # wall_seconds is rounded to 0.1 s
        assert images / (r["wall_seconds"] + 0.06) <= r["images_per_second"] <= images / (r["wall_seconds"] - 0.06)
        assert r["gflops_per_second"] == pytest.approx(
            r["images_per_second"] * r["training_gflop_per_image"],  # each rounded: GFLOP/s to 0.1, GFLOP to 1e-4
            rel=0.02, abs=0.05 + r["images_per_second"] * 5e-5)
        assert r["share_of_matmul"] == pytest.approx(r["gflops_per_second"] / 200.0, abs=1e-3)
    course, reference = rows[1], rows[0]
    assert course["train_images"] == 160, "the recipe trains on the rest of the training split"
    assert reference["train_images"] == 128, "the reference's own Keras validation split (20%) is not trained on"
    assert reference["time_ratio_to_reference"] == 1.0
    assert course["time_ratio_to_reference"] == pytest.approx(course["wall_seconds"] / reference["wall_seconds"],
                                                              abs=1e-3)
    assert scored.count(len(ds.y_test)) == 4, "the test split is scored once per trained model"
    assert (tmp_path / "recipes.json").exists()


def test_one_seed_recipes_train_once_beside_a_reference_for_every_seed(tiny_bench, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_BENCH_ONE_SEED", "course")
    rows = recipes.run(tmp_path, datasets=["fashion_mnist"], epochs=1, seeds=[1, 2], validation=40)
    assert [(r["recipe"], r["seed"]) for r in rows] == [("reference", 1), ("course", 1), ("reference", 2)]
    summary = {s["recipe"]: s["seeds"] for s in recipes.summarize(rows)}
    assert summary == {"reference": [1, 2], "course": [1]}
    monkeypatch.setenv("COURSE_BENCH_ONE_SEED", "nonsense")
    with pytest.raises(ValueError, match="COURSE_BENCH_ONE_SEED"):
        recipes.one_seed_recipes()


def test_an_interrupted_run_keeps_the_rows_it_measured(tiny_bench, tmp_path, monkeypatch):
    real, calls = recipes.train_one, []

    def failing_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(recipes, "train_one", failing_second)
    with pytest.raises(KeyboardInterrupt):
        recipes.run(tmp_path, datasets=["fashion_mnist"], epochs=1, seeds=[1], validation=40)
    rows = json.loads((tmp_path / "recipes.json").read_text())
    assert [(r["recipe"], r["seed"]) for r in rows] == [("reference", 1)]


def test_development_runs_leave_the_test_split_unscored(tiny_bench, tmp_path, monkeypatch):
    ds, scored = tiny_bench
    monkeypatch.setenv("COURSE_BENCH_TEST", "0")
    monkeypatch.setenv("COURSE_BENCH_CURVE", "1")
    monkeypatch.setenv("COURSE_BENCH_RECIPES", "course")
    rows = recipes.run(tmp_path, datasets=["fashion_mnist"], epochs=2, seeds=[1], validation=40)
    assert all(r["test_accuracy"] is None for r in rows)
    assert len(ds.y_test) not in scored, "no prediction on the test images"
    curve = rows[1]["curve"]
    assert [c["epoch"] for c in curve] == [1, 2] and "validation_accuracy" in curve[0]
    assert curve[-1]["validation_accuracy"] == rows[1]["validation_accuracy"]
