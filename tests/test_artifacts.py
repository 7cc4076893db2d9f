"""Saved models are found again: by the next notebook, and by lecture mode after a full run."""
import keras
import numpy as np

from course_utils import artifacts


def _tiny_model():
    inputs = keras.Input(shape=(4,))
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))


def test_lecture_mode_loads_what_the_full_run_saved(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_ARTIFACTS_DIR", raising=False)
    monkeypatch.setenv("COURSE_ARTIFACTS_ROOT", str(tmp_path))  # what the course runner sets
    model = _tiny_model()
    path = artifacts.save_model(model, "tiny", {"accuracy": [0.5, 0.75]}, info={"dataset": "digits"}, mode="full")
    assert path == tmp_path / "full" / "tiny.keras"

    loaded, history, info = artifacts.load_model("tiny", mode="lecture")
    x = np.ones((1, 4), dtype="float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert history == {"accuracy": [0.5, 0.75]} and info == {"dataset": "digits"}


def test_nothing_saved_means_none(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_ARTIFACTS_DIR", raising=False)
    monkeypatch.setenv("COURSE_ARTIFACTS_ROOT", str(tmp_path))
    assert artifacts.load_model("tiny", mode="lecture") is None
    artifacts.save_model(_tiny_model(), "tiny", mode="smoke")
    assert artifacts.load_model("tiny", mode="full") is None, "a smoke model never stands in for a full one"


def test_lecture_mode_reuses_saved_results_and_prefers_the_full_run(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_ARTIFACTS_DIR", raising=False)
    monkeypatch.setenv("COURSE_ARTIFACTS_ROOT", str(tmp_path))
    assert artifacts.load_json("rows", mode="lecture") is None
    artifacts.save_json("rows", [{"per_class": 10, "test_accuracy": 0.5}], mode="lecture")
    assert artifacts.load_json("rows", mode="lecture") == [{"per_class": 10, "test_accuracy": 0.5}]
    artifacts.save_json("rows", [{"per_class": 500, "test_accuracy": np.float32(0.9)}], mode="full")
    assert artifacts.load_json("rows", mode="lecture") == [{"per_class": 500, "test_accuracy": 0.8999999761581421}]
    assert artifacts.load_json("rows", mode="smoke") is None  # other modes never see each other's results


def test_a_corrupt_saved_result_is_named(tmp_path, monkeypatch):
    import pytest

    monkeypatch.delenv("COURSE_ARTIFACTS_DIR", raising=False)
    monkeypatch.setenv("COURSE_ARTIFACTS_ROOT", str(tmp_path))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "rows.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"rows\.json: not valid JSON"):
        artifacts.load_json("rows", mode="lecture")
