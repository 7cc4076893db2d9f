"""course_utils.tuning: the trial log and tables of real (tiny) KerasTuner searches, budgets, and the result helpers."""
import json

import numpy as np
import pandas as pd
import pytest

kt = pytest.importorskip("keras_tuner")
keras = pytest.importorskip("keras")

from course_utils import plots, tuning  # noqa: E402

CLASSES = 3


@pytest.fixture
def tiny():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(24, 8, 8, 1), dtype=np.uint8)
    y = np.tile(np.arange(CLASSES), 8).astype("int64")
    return x, y, (x[:9], y[:9])


def build_tiny(hp):
    """A tiny hypermodel with 30 configurations (so random draws rarely collide)."""
    units = hp.Choice("units", [2, 3, 4, 5, 6, 7, 8, 9, 10, 11], default=4)
    learning_rate = hp.Float("learning_rate", min_value=1e-3, max_value=1e-1, step=10, sampling="log",
                             default=1e-2)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                              keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dense(CLASSES, activation="softmax")])
    model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"],
                  run_eagerly=True)  # a few steps per trial: tracing a tf.function would cost more than it saves
    return model


def _search(tuner, data, epochs=1, callbacks=()):
    x, y, val = data
    log = tuning.TrialLog(tuner, "test")
    tuner.search(x, y, validation_data=val, epochs=epochs, batch_size=8, callbacks=[*callbacks, log], verbose=0)
    return log


def test_trial_log_and_table_of_a_random_search(tmp_path, tiny, capsys):
    tuner = kt.RandomSearch(build_tiny, objective="val_accuracy", max_trials=3, seed=0, directory=tmp_path,
                            project_name="random", overwrite=True)
    log = _search(tuner, tiny, epochs=2)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("test ")]
    assert len(lines) == 3, "one line per trial"
    assert "tuner/" not in "\n".join(lines)

    rows = tuning.trials_table(tuner, log.trials)
    assert [r["trial"] for r in rows] == [1, 2, 3]
    assert json.loads(json.dumps(rows)) == rows, "rows are JSON-able as they are"
    validation_images = len(tiny[2][1])
    for row, line in zip(rows, lines):
        trial = tuner.oracle.trials[row["trial_id"]]
        assert row["status"] == "COMPLETED" and row["continues"] is None, "a random search resumes nothing"
        assert {k: row[k] for k in ("units", "learning_rate")} == trial.hyperparameters.values
        assert row["val_accuracy"] == trial.score, "the score KerasTuner ranked the trial by"
        assert row["val_accuracy"] * validation_images == pytest.approx(round(row["val_accuracy"] * validation_images)), \
            "a share of the validation images"
        assert (row["epochs"], row["seconds"]) == (2, log.trials[row["trial_id"]]["seconds"]), "the log's own record"
        assert f"val_accuracy {row['val_accuracy']:.4f}" in line and "| 2 epochs," in line
        assert f"units={row['units']}," in line and f"learning_rate={row['learning_rate']:g}" in line
        assert set(tuning.BOOKKEEPING) - {"strategy"} <= set(row)
    best = tuner.oracle.get_best_trials(1)[0]
    best_row = next(r for r in rows if r["trial_id"] == best.trial_id)
    assert best_row["val_accuracy"] == max(r["val_accuracy"] for r in rows)
    assert f"(best {best_row['val_accuracy']:.4f})" in lines[-1], "the last line shows the best score so far"
    assert tuner.get_best_hyperparameters(1)[0].values == {k: best_row[k] for k in ("units", "learning_rate")}


def test_trial_log_counts_the_epochs_early_stopping_left(tmp_path, tiny):
    tuner = kt.RandomSearch(build_tiny, objective="val_accuracy", max_trials=2, seed=1, directory=tmp_path,
                            project_name="stopped", overwrite=True)
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=1, min_delta=2.0)  # never improves
    log = _search(tuner, tiny, epochs=5, callbacks=[stop])
    assert [t["epochs"] for t in log.trials.values()] == [2, 2]


def test_grid_search_starts_at_the_defaults_and_varies_the_last_hyperparameter_first(tmp_path, tiny):
    """What notebook 08 says of kt.GridSearch: with a small budget it explores only a corner of the grid."""
    tuner = kt.GridSearch(build_tiny, objective="val_accuracy", max_trials=3, seed=0, directory=tmp_path,
                          project_name="grid", overwrite=True)
    log = _search(tuner, tiny)
    frame = pd.DataFrame(tuning.trials_table(tuner, log.trials))
    assert frame.loc[0, "units"] == 4 and frame.loc[0, "learning_rate"] == pytest.approx(1e-2)
    assert (frame["units"] == 4).all(), "the first declared hyperparameter stays at its default"
    assert sorted(frame["learning_rate"].round(6)) == [0.001, 0.01, 0.1]


def test_hyperband_budget_is_what_keras_tuner_runs(tmp_path, tiny):
    plan = tuning.hyperband_budget(max_epochs=3, factor=3, iterations=1)
    assert (plan["trials"], plan["epochs"]) == (6, 11)
    tuner = kt.Hyperband(build_tiny, objective="val_accuracy", max_epochs=3, factor=3, hyperband_iterations=1,
                         seed=0, directory=tmp_path, project_name="hyperband", overwrite=True)
    log = _search(tuner, tiny, epochs=3)
    rows = tuning.trials_table(tuner, log.trials)
    assert len(rows) == plan["trials"]
    assert sum(r["epochs"] for r in rows) == plan["epochs"]
    resumed = [r for r in rows if r["continues"] is not None]
    assert len(resumed) == 1 and resumed[0]["epochs"] == 2, "a resumed round trains only the extra epochs"
    assert resumed[0]["continues"] in {r["trial_id"] for r in rows}


@pytest.mark.parametrize("args,trials,epochs", [((4, 3, 2), 20, 52), ((4, 3, 1), 10, 26), ((2, 3, 1), 2, 4),
                                                ((1, 3, 1), 1, 1), ((9, 3, 1), 23, 75)])
def test_hyperband_budget_of_known_schedules(args, trials, epochs):
    plan = tuning.hyperband_budget(*args)
    assert (plan["trials"], plan["epochs"]) == (trials, epochs)
    assert sum(size for _, _, size, _ in plan["rounds"]) == trials


def test_hyperband_budget_refuses_nonsense():
    for args in [(0, 3, 1), (4, 1, 1), (4, 3, 0)]:
        with pytest.raises(ValueError, match="max_epochs >= 1"):
            tuning.hyperband_budget(*args)


def test_grid_size_counts_every_combination():
    hp = kt.HyperParameters()
    hp.Choice("a", [1, 2, 3])
    hp.Int("b", 1, 3)
    hp.Float("c", 0.0, 0.4, step=0.2)
    hp.Boolean("d")
    assert tuning.grid_size(hp) == 3 * 3 * 3 * 2
    assert tuning.grid_size(kt.HyperParameters()) == 1


def test_best_so_far_is_monotonic_and_skips_failed_trials():
    rng = np.random.default_rng(1)
    scores = rng.uniform(size=50)
    scores[[3, 17]] = np.nan
    curve = plots.best_so_far(scores)
    assert curve.shape == scores.shape
    assert np.all(np.diff(curve[~np.isnan(curve)]) >= 0)
    assert curve[-1] == np.nanmax(scores)
    np.testing.assert_array_equal(plots.best_so_far([np.nan, 0.2, 0.1, 0.5]), [np.nan, 0.2, 0.2, 0.5])
    assert plots.best_so_far([]).size == 0


SPACE = {"optimizer": ["adam", "rmsprop", "sgd"], "learning_rate": [1e-4, 1e-3, 1e-2], "filters": [16, 32, 64],
         "l2": [0.0, 1e-5, 1e-4, 1e-3]}


def _synthetic_trials(n=40, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame([{name: values[rng.integers(len(values))] for name, values in SPACE.items()}
                          for _ in range(n)])
    frame["val_accuracy"] = 0.9 - 0.1 * np.abs(np.log10(frame["learning_rate"]) + 3) + rng.normal(0, 0.003, n)
    frame["strategy"], frame["trial"], frame["epochs"], frame["seconds"] = "random", np.arange(1, n + 1), 2, 3.0
    return frame


def test_hyperparameter_columns_and_their_scales():
    frame = _synthetic_trials()
    assert tuning.hyperparameter_columns(frame) == list(SPACE)
    assert plots.is_log_scale(SPACE["learning_rate"]) and plots.is_log_scale(SPACE["l2"])
    assert not plots.is_log_scale(SPACE["filters"]) and not plots.is_log_scale(SPACE["optimizer"])
    np.testing.assert_allclose(plots.encode_column([0.0, 1e-5, 1e-3]), [-6, -5, -3])
    np.testing.assert_array_equal(plots.encode_column(["sgd", "adam", "sgd"]), [1, 0, 1])
    np.testing.assert_array_equal(plots.encode_column([16, 64]), [16, 64])


def test_importance_finds_the_hyperparameter_that_drives_accuracy():
    ranking = tuning.importance(_synthetic_trials())
    assert ranking.index[0] == "learning_rate"
    assert ranking["random_forest"].sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 3"):
        tuning.importance(_synthetic_trials(2))


def test_summary_table_counts_trials_epochs_and_seconds():
    frame = _synthetic_trials()
    other = frame.head(5).assign(strategy="grid", epochs=[1, 2, None, 2, 2])
    table = tuning.summary_table({"random": frame, "grid": other})
    assert list(table.index) == ["random", "grid"]
    assert table.loc["random", "trials"] == 40 and table.loc["random", "epochs trained"] == 80
    assert table.loc["random", "search seconds"] == 120.0
    assert table.loc["grid", "epochs trained"] == 7, "a trial without a record counts no epochs"
    assert table.loc["random", "best val_accuracy"] == pytest.approx(frame["val_accuracy"].max())


def test_plots_accept_trials():
    import matplotlib

    matplotlib.use("Agg")
    frame = _synthetic_trials()
    frames = {"random": frame, "grid": frame.head(10).assign(strategy="grid")}
    fig = plots.best_so_far_curves(frames, noise=0.005)
    assert len(fig.axes) == 2
    xs = fig.axes[0].lines[0].get_xdata()
    assert xs[-1] == frame["epochs"].sum(), "the left panel counts cumulative epochs"
    assert fig.axes[1].lines[0].get_xdata()[-1] == pytest.approx(frame["seconds"].sum())
    fig = plots.hyperparameter_effects(pd.concat(frames.values()), list(SPACE))
    assert [ax.get_title() for ax in fig.axes[:len(SPACE)]] == list(SPACE)
    fig = plots.trials_parallel_coordinates(frame, list(SPACE))
    assert len(fig.data[0].dimensions) == len(SPACE) + 2


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
