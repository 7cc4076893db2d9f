"""The run context: a notebook's mode, seed and folders, passed explicitly instead of read from the environment."""
import json

import keras
import numpy as np
import pytest

from course_utils import Run


def _tiny_model():
    inputs = keras.Input((3,))
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))


def _run(mode, tmp_path, **kw):
    return Run(mode, seed=1, build_dir=tmp_path / "build", artifacts_dir=tmp_path / "artifacts", verbose=False, **kw)


def test_by_mode_picks_the_value_and_lecture_defaults_to_smoke(tmp_path):
    assert _run("full", tmp_path).by_mode(full=1, smoke=2) == 1
    assert _run("smoke", tmp_path).by_mode(full=1, smoke=2, lecture=3) == 2
    assert _run("lecture", tmp_path).by_mode(full=1, smoke=2) == 2
    assert _run("lecture", tmp_path).by_mode(full=1, smoke=2, lecture=3) == 3
    assert _run("lecture", tmp_path).by_mode(full=None, smoke=2, lecture=None) is None, "None means all, as in full"
    with pytest.raises(ValueError, match="MODE must be one of"):
        _run("fast", tmp_path)


def test_metrics_are_labelled_with_the_run_mode_not_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "full")
    _run("lecture", tmp_path).save_metrics("01_x", {"test_accuracy": np.float32(0.5), "n": np.int64(3)})
    saved = json.loads((tmp_path / "build" / "01_x.metrics.json").read_text())
    assert saved == {"mode": "lecture", "n": 3, "test_accuracy": 0.5}


def test_smoke_and_full_train_while_lecture_reuses_a_full_run(tmp_path, capsys):
    calls = []

    def fit():
        calls.append(1)
        model = _tiny_model()
        model.compile("adam", "sparse_categorical_crossentropy")
        history = model.fit(np.zeros((4, 3)), np.zeros(4), epochs=1, verbose=0)
        return model, history

    full = _run("full", tmp_path).load_or_train("m", fit, dataset="d")
    assert not full.loaded and full.info["dataset"] == "d" and "loss" in full.history
    again = _run("full", tmp_path).load_or_train("m", fit, dataset="d")
    assert not again.loaded and len(calls) == 2, "full mode trains every time"
    lecture = _run("lecture", tmp_path).load_or_train("m", fit, dataset="d")
    assert lecture.loaded and len(calls) == 2 and lecture.info["mode"] == "full"
    assert "loaded the model a full run saved" in capsys.readouterr().out
    other_data = _run("lecture", tmp_path).load_or_train("m", fit, dataset="digits")
    assert not other_data.loaded and len(calls) == 3, "a model trained on other data is not reused"
    model, history, info = _run("smoke", tmp_path).load_or_train("m", fit, reuse=True)
    assert len(calls) == 4, "nothing saved in smoke mode yet: trains"
    assert _run("smoke", tmp_path).load_or_train("m", fit, reuse=True).loaded


def test_load_or_compute_reuses_results_in_lecture_mode_only(tmp_path):
    values = iter([1, 2, 3])
    assert _run("full", tmp_path).load_or_compute("table", lambda: {"v": next(values)}) == {"v": 1}
    assert _run("lecture", tmp_path).load_or_compute("table", lambda: {"v": next(values)}) == {"v": 1}
    assert _run("smoke", tmp_path).load_or_compute("table", lambda: {"v": next(values)}) == {"v": 2}
    (tmp_path / "artifacts" / "full" / "table.json").write_text("{broken")
    with pytest.raises(ValueError, match="table.json: not valid JSON"):
        _run("lecture", tmp_path).load_or_compute("table", lambda: {"v": next(values)})


def test_work_dir_is_one_fresh_folder_per_run(tmp_path):
    run = _run("smoke", tmp_path)
    assert run.work_dir == run.work_dir and run.work_dir.is_dir()
    assert _run("smoke", tmp_path).work_dir != run.work_dir


def _write_metrics(path, **metrics):
    path.write_text(json.dumps(metrics))
    return path


def test_metrics_of_prefers_this_builds_file(tmp_path, monkeypatch):
    monkeypatch.setattr("course_utils.config.recorded_full_run",
                        lambda: {"05_training": {"dataset": "fashion_mnist", "test_accuracy": 0.5}})
    run = Run("smoke", build_dir=tmp_path, verbose=False)
    _write_metrics(tmp_path / "05_training.metrics.json", dataset="fashion_mnist", test_accuracy=0.93, mode="smoke")
    metrics, source = run.metrics_of("05_training", "fashion_mnist")
    assert metrics["test_accuracy"] == 0.93
    assert "this build" in source and "smoke" in source


def test_metrics_of_falls_back_to_the_recorded_full_run(tmp_path, monkeypatch):
    monkeypatch.setattr("course_utils.config.recorded_full_run",
                        lambda: {"05_training": {"dataset": "fashion_mnist", "test_accuracy": 0.925, "mode": "full"}})
    run = Run("smoke", build_dir=tmp_path, verbose=False)
    other = _write_metrics(tmp_path / "other.json", dataset="digits", test_accuracy=0.99)
    for given in (tmp_path / "missing.json", other):
        metrics, source = run.metrics_of("05_training", "fashion_mnist", path=given)
        assert metrics["test_accuracy"] == 0.925 and "metrics-full.json" in source


def test_metrics_of_says_why_when_nothing_is_there(tmp_path, monkeypatch):
    monkeypatch.setattr("course_utils.config.recorded_full_run", lambda: None)
    metrics, why = Run("smoke", build_dir=tmp_path, verbose=False).metrics_of("05_training", "fashion_mnist")
    assert metrics is None
    assert "no 05_training.metrics.json" in why and "no recorded full run" in why


def test_metrics_of_names_a_corrupt_file(tmp_path):
    (tmp_path / "05_training.metrics.json").write_text("{not json")
    with pytest.raises(ValueError, match="05_training.metrics.json.*not valid JSON"):
        Run("smoke", build_dir=tmp_path, verbose=False).metrics_of("05_training", "fashion_mnist")


def test_recorded_full_run_is_the_committed_results():
    from course_utils import config

    recorded = config.recorded_full_run()
    assert recorded["01_problem_definition"]["dataset"] == "fashion_mnist"
    assert recorded["05_training"]["mode"] == "full"

