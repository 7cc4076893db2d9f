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
