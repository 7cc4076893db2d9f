"""course_utils.tuning: the search space, the cached KerasTuner searches, the result helpers (tiny data, 1-step trials)."""
import json

import numpy as np
import pandas as pd
import pytest

kt = pytest.importorskip("keras_tuner")

from course_utils import config, tuning  # noqa: E402

SHAPE = (28, 28)
CLASSES = 3


@pytest.fixture
def tiny():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(24, *SHAPE), dtype=np.uint8)
    y = np.tile(np.arange(CLASSES), 8).astype("int64")
    return x, y, (x[:9], y[:9])


def _search(strategy, directory, data, fresh=False, max_trials=2, settings=None):
    x, y, val = data
    hypermodel = tuning.CourseHyperModel(SHAPE, CLASSES, seed=0)
    tuner = tuning.make_tuner(strategy, hypermodel, directory, max_trials=max_trials, max_epochs=2, seed=0,
                              fresh=fresh, settings=settings or {"n": len(y)})
    return tuner, tuning.run_search(tuner, x, y, val, epochs=1)


@pytest.mark.parametrize("name", tuning.HYPERPARAMETERS)
def test_every_choice_builds_a_valid_model(name):
    for value in tuning.SPACE[name][0]:
        values = {**tuning.default_values(), name: value}
        model = tuning.build_model(values, SHAPE, CLASSES)
        out = model.predict(np.zeros((2, *SHAPE, 1), "float32"), verbose=0)
        assert out.shape == (2, CLASSES)
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-4)
        assert model.optimizer is not None and model.loss == "sparse_categorical_crossentropy"


def test_hypermodel_builds_from_keras_tuner_hyperparameters():
    hp = kt.HyperParameters()
    model = tuning.CourseHyperModel(SHAPE, CLASSES).build(hp)
    assert set(tuning.HYPERPARAMETERS) <= set(hp.values)
    assert model.output_shape == (None, CLASSES)


def test_build_model_names_missing_hyperparameters():
    values = tuning.default_values()
    del values["dropout"]
    with pytest.raises(ValueError, match="dropout"):
        tuning.build_model(values, SHAPE, CLASSES)


def test_unknown_strategy_is_named(tmp_path):
    with pytest.raises(ValueError, match="bayesian.*grid"):
        tuning.make_tuner("bayesian", tuning.CourseHyperModel(SHAPE, CLASSES), tmp_path)


@pytest.mark.parametrize("strategy", ["random"])
def test_second_search_reuses_the_cache_and_fresh_searches_again(strategy, tmp_path, tiny):
    tuner, first = _search(strategy, tmp_path, tiny)
    assert first.new_trials == 2 and not first.reused
    frame = tuning.trials_frame(tuner)
    assert len(frame) == 2 and frame["val_accuracy"].notna().all()
    assert (frame["epochs"] == 1).all() and (frame["seconds"] > 0).all()

    _, second = _search(strategy, tmp_path, tiny)
    assert second.new_trials == 0 and second.reused and second.reused_trials == 2
    assert second.search_seconds == pytest.approx(first.search_seconds)
    assert "reused 2 cached trials" in second.describe()

    _, fresh = _search(strategy, tmp_path, tiny, fresh=True)
    assert fresh.new_trials == 2 and fresh.reused_trials == 0


def test_hyperband_runs_and_is_cached(tmp_path, tiny):
    tuner, first = _search("hyperband", tmp_path, tiny)
    assert first.new_trials >= 2
    frame = tuning.trials_frame(tuner, "hyperband")
    assert set(frame["strategy"]) == {"hyperband"}
    _, second = _search("hyperband", tmp_path, tiny)
    assert second.new_trials == 0 and second.reused


def test_a_larger_budget_continues_the_cached_search(tmp_path, tiny):
    _search("random", tmp_path, tiny, max_trials=1)
    _, more = _search("random", tmp_path, tiny, max_trials=2)
    assert more.new_trials == 1 and more.reused_trials == 1


def test_cache_made_with_other_settings_is_refused_not_overwritten(tmp_path, tiny):
    _search("random", tmp_path, tiny, max_trials=1, settings={"n": 24})
    trial_files = sorted(p.name for p in (tmp_path / "random").iterdir())
    with pytest.raises(ValueError) as info:
        _search("random", tmp_path, tiny, max_trials=1, settings={"n": 99})
    message = str(info.value)
    assert tuning.SETTINGS_FILE in message and "n: 24 -> 99" in message and "fresh=True" in message
    assert sorted(p.name for p in (tmp_path / "random").iterdir()) == trial_files  # nothing destroyed


def test_corrupt_timings_file_is_named(tmp_path, tiny):
    tuner, _ = _search("random", tmp_path, tiny, max_trials=1)
    (tmp_path / "random" / tuning.TIMINGS_FILE).write_text("{not json")
    with pytest.raises(ValueError, match=f"{tuning.TIMINGS_FILE}.*not valid JSON"):
        tuning.trials_frame(tuner)


def test_best_so_far_is_monotonic_and_skips_failed_trials():
    rng = np.random.default_rng(1)
    scores = rng.uniform(size=50)
    scores[[3, 17]] = np.nan
    curve = tuning.best_so_far(scores)
    assert curve.shape == scores.shape
    assert np.all(np.diff(curve[~np.isnan(curve)]) >= 0)
    assert curve[-1] == np.nanmax(scores)
    np.testing.assert_array_equal(tuning.best_so_far([np.nan, 0.2, 0.1, 0.5]), [np.nan, 0.2, 0.2, 0.5])
    assert tuning.best_so_far([]).size == 0


def _synthetic_trials(n=40, seed=0):
    rng = np.random.default_rng(seed)
    rows = [{name: values[rng.integers(len(values))] for name, (values, _) in tuning.SPACE.items()}
            for _ in range(n)]
    frame = pd.DataFrame(rows)
    frame["val_accuracy"] = 0.9 - 0.1 * np.abs(np.log10(frame["learning_rate"]) + 3) + rng.normal(0, 0.003, n)
    frame["strategy"] = "random"
    return frame


def test_importance_finds_the_hyperparameter_that_drives_accuracy():
    ranking = tuning.importance(_synthetic_trials())
    assert ranking.index[0] == "learning_rate"
    assert ranking["random_forest"].sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 3"):
        tuning.importance(_synthetic_trials(2))


def test_best_values_and_summary_table():
    frame = _synthetic_trials()
    frame["epochs"], frame["seconds"] = 1, 2.0
    best = tuning.best_values(frame)
    assert best["learning_rate"] == pytest.approx(1e-3)
    table = tuning.summary_table({"random": frame})
    assert table.loc["random", "trials"] == 40 and table.loc["random", "search seconds"] == 80.0
    with pytest.raises(ValueError, match="no trial finished"):
        tuning.best_values(frame.assign(val_accuracy=np.nan))


def test_plots_accept_trials():
    import matplotlib

    matplotlib.use("Agg")
    from course_utils import plots

    frame = _synthetic_trials()
    assert plots.best_so_far_curves({"random": frame}) is not None
    assert plots.hyperparameter_effects(frame) is not None
    fig = plots.trials_parallel_coordinates(frame)
    assert len(fig.data[0].dimensions) == len(tuning.HYPERPARAMETERS) + 2


def test_tuning_dir_lecture_prefers_a_full_run(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_ARTIFACTS_DIR", raising=False)
    monkeypatch.delenv("COURSE_ARTIFACTS_ROOT", raising=False)
    monkeypatch.setattr(config, "_default_build_root", lambda: tmp_path)
    assert tuning.tuning_dir("digits", "lecture") == tmp_path / "artifacts" / "lecture" / "tuning" / "digits"
    full = tmp_path / "artifacts" / "full" / "tuning" / "digits" / "random"
    full.mkdir(parents=True)
    assert tuning.tuning_dir("digits", "lecture") == full.parent
    assert tuning.tuning_dir("digits", "smoke") == tmp_path / "artifacts" / "smoke" / "tuning" / "digits"


def test_distributed_role_only_with_all_variables(monkeypatch):
    for key in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        monkeypatch.delenv(key, raising=False)
    assert tuning.distributed_role() is None
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner0")
    assert tuning.distributed_role() is None
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")
    assert tuning.distributed_role() == "worker"
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    assert tuning.distributed_role() == "chief"


def test_settings_file_records_the_space(tmp_path, tiny):
    _search("grid", tmp_path, tiny, max_trials=1)
    saved = json.loads((tmp_path / "grid" / tuning.SETTINGS_FILE).read_text())
    assert saved["strategy"] == "grid" and set(saved["space"]) == set(tuning.HYPERPARAMETERS)


def test_saved_settings_of_a_cached_search(tmp_path, tiny):
    assert tuning.saved_settings(tmp_path) is None
    _search("random", tmp_path, tiny, max_trials=1, settings={"search_train": 24})
    saved = tuning.saved_settings(tmp_path)
    assert saved["search_train"] == 24 and "strategy" not in saved


def _write_metrics(path, **metrics):
    path.write_text(json.dumps(metrics))
    return path


def test_recipe_metrics_prefer_this_builds_file(tmp_path, monkeypatch):
    monkeypatch.setattr("course_utils.claims.recorded_metrics", lambda nb: {"dataset": "fashion_mnist",
                                                                            "test_accuracy": 0.5})
    path = _write_metrics(tmp_path / "05_training.metrics.json", dataset="fashion_mnist", test_accuracy=0.93,
                          mode="smoke")
    metrics, source = tuning.recipe_metrics("fashion_mnist", path)
    assert metrics["test_accuracy"] == 0.93
    assert "this build" in source and "smoke" in source


def test_recipe_metrics_fall_back_to_the_recorded_full_run(tmp_path, monkeypatch):
    monkeypatch.setattr("course_utils.claims.recorded_metrics",
                        lambda nb: {"dataset": "fashion_mnist", "test_accuracy": 0.925, "mode": "full"}
                        if nb == "05_training" else None)
    other = _write_metrics(tmp_path / "05_training.metrics.json", dataset="digits", test_accuracy=0.99)
    for given in (tmp_path / "missing.json", other):
        metrics, source = tuning.recipe_metrics("fashion_mnist", given)
        assert metrics["test_accuracy"] == 0.925 and "metrics-full.json" in source


def test_recipe_metrics_say_why_when_nothing_is_there(tmp_path, monkeypatch):
    monkeypatch.setattr("course_utils.claims.recorded_metrics", lambda nb: None)
    metrics, why = tuning.recipe_metrics("fashion_mnist", tmp_path / "05_training.metrics.json")
    assert metrics is None
    assert "no 05_training.metrics.json" in why and "no recorded full run" in why


def test_recorded_metrics_read_the_committed_results():
    from course_utils import claims

    recorded = claims.recorded_metrics("01_problem_definition")
    assert recorded["dataset"] == "fashion_mnist" and recorded["mode"] == "full"
    assert claims.recorded_metrics("99_no_such_notebook") is None
