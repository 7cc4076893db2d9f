"""Smoke tier: every notebook end to end in smoke mode, executed once.

Under ``make test`` nbval executes the papermill-prepared copies ahead of these tests (``course_tools.testing``),
and these tests check what those runs left: the executed notebook and the metrics it wrote. Run on their own
(``pytest tests/test_notebooks.py``), they execute each notebook once with papermill, the way ``make course`` does.
"""
import ast
import json
import os

import nbformat
import numpy as np
import pytest

from course_tools import testing
from course_tools.run import execute_notebook, list_notebooks
from course_utils.data import local_copy_available

NOTEBOOKS = list_notebooks()


class SmokeRun:
    """What one smoke run of a notebook left: its metrics, its executed copy, the first error it printed."""

    def __init__(self, stem, metrics, executed, how):
        self.stem, self.metrics, self.executed, self.how = stem, metrics, executed, how
        nb = nbformat.read(executed, as_version=4) if executed and executed.exists() else None
        self.outputs = [out for cell in (nb.cells if nb else []) for out in cell.get("outputs", [])]
        errors = [out for out in self.outputs if out.get("output_type") == "error"]
        self.error = f"{errors[0]['ename']}: {errors[0]['evalue']}" if errors else None
        if nb is None:
            self.error = f"no executed notebook at {executed}"

    def text(self) -> str:
        """Everything the notebook printed or displayed as text."""
        parts = []
        for out in self.outputs:
            parts.append(out.get("text", ""))
            parts.append(str(out.get("data", {}).get("text/plain", "")))
        return "\n".join(parts)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """``smoke_run(notebook)``: nbval's run of it in this session, else one papermill run (at most once each)."""
    runs = {}
    folder = None

    def get(nb):
        nonlocal folder
        if nb.stem not in runs:
            executed = testing.executed_notebook(nb.stem)
            if executed is not None:
                how = "nbval, make test"
            else:
                folder = folder or tmp_path_factory.mktemp("smoke")  # one build for the session, as in a course run
                result = execute_notebook(nb, "smoke", folder / "smoke", artifacts=folder / "artifacts",
                                          progress=False)
                executed, how = result.output, "papermill, on its own"
            metrics_file = executed.with_name(f"{nb.stem}.metrics.json")
            metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
            runs[nb.stem] = SmokeRun(nb.stem, metrics, executed, how)
        return runs[nb.stem]

    return get


def _default(nb, name):
    """A parameter's default value, read from the notebook's parameters cell."""
    import papermill as pm

    found = pm.inspect_notebook(str(nb)).get(name)
    return ast.literal_eval(found["default"]) if found else None


@pytest.mark.notebooks
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_smoke_mode(nb, smoke_run):
    run = smoke_run(nb)
    assert run.error is None, f"{nb.name} ({run.how}) failed: {run.error}"
    metrics = run.metrics
    assert metrics, f"{nb.name} wrote no metrics file"
    assert metrics["mode"] == "smoke"
    assert metrics.get("headline_metric") in metrics, "the headline metric must be written"
    accuracies = {k: v for k, v in metrics.items() if k.endswith("test_accuracy") and isinstance(v, float)}
    if "chance_accuracy" in metrics:
        # a quick run is still a real run: every model it scores must learn, not merely beat chance by rounding
        assert accuracies, "a notebook that states chance accuracy reports a test accuracy"
        for key, value in accuracies.items():
            assert value >= 2 * metrics["chance_accuracy"], f"{key} = {value}: under twice chance ({metrics})"
    dataset = _default(nb, "DATASET")
    if "dataset" in metrics and dataset:
        if local_copy_available(dataset):
            assert metrics["dataset"] == dataset, f"{dataset} is here, yet the notebook used {metrics['dataset']}"
        elif os.environ.get("COURSE_OFFLINE") == "1":
            # a bare offline machine: the notebook must have run on the embedded data set, and said so
            assert metrics["dataset"] == "digits", metrics
            assert "FALLBACK" in run.text() and "digits" in run.text()


def test_committed_notebooks_are_lean_and_portable():
    for nb in NOTEBOOKS:
        text = nb.read_text()
        assert '"output_type": "error"' not in text, f"{nb.name} holds an error output"
        assert "/work/" not in text and "/home/" not in text and "/root/" not in text, f"{nb.name} has a machine path"
        assert len(text) < 1_500_000, f"{nb.name} is too large"


# --- "a smoke run twice gives the same metrics" (CONTRIBUTING, rule 12), without running a notebook twice -----------

def _seeded_training(seed, tmp_path):
    """What a notebook does after its parameters: make the Run (seeds everything), then train and score briefly."""
    import keras

    from course_utils import Run, data, models, pipeline

    run = Run("smoke", seed=seed, build_dir=tmp_path, artifacts_dir=tmp_path, verbose=False)
    ds = data.load_dataset("digits", verbose=False)
    x, y = data.stratified_subset(ds.x_train, ds.y_train, 300, seed=run.seed)
    train = pipeline.make_dataset(x, y, 32, training=True, seed=run.seed,
                                  augment=keras.layers.RandomTranslation(0.1, 0.1, seed=run.seed))
    model = models.small_cnn(pipeline.add_channel_axis(x).shape[1:], ds.num_classes, widths=(4, 8), dense=16, dropout=0.2)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train, epochs=2, shuffle=False, verbose=0).history  # the dataset shuffles itself
    scores = model.evaluate(pipeline.make_dataset(ds.x_test[:200], ds.y_test[:200], 64), verbose=0,
                            return_dict=True)
    return model.get_weights(), history, scores


def test_seeding_by_the_run_makes_a_smoke_training_repeatable(tmp_path):
    """Two trainings after ``Run(seed=...)`` agree to the last bit: initial weights, shuffling, augmentation, dropout."""
    weights, history, scores = _seeded_training(42, tmp_path)
    weights_again, history_again, scores_again = _seeded_training(42, tmp_path)
    assert history == history_again and scores == scores_again
    for w, w_again in zip(weights, weights_again, strict=True):
        np.testing.assert_array_equal(w, w_again)
    other_weights, other_history, _ = _seeded_training(7, tmp_path)
    assert other_history != history, "another seed trains differently (the comparison above can fail)"
    assert any(not np.array_equal(w, o) for w, o in zip(weights, other_weights))
