"""Training helpers: the timing callbacks, the one-cycle schedule, the recipes."""
import dataclasses

import keras
import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from course_utils import config, train
from synthetic import bars


def _tiny_model():
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Dense(8, activation="relu")(inputs))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _tiny_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64") + (x[:, 1] > 1).astype("int64")


def test_timer_measures_epochs():
    x, y = _tiny_data()
    timer = train.Timer()
    _tiny_model().fit(x, y, epochs=3, verbose=0, callbacks=[timer])
    assert len(timer.epoch_seconds) == 3 and timer.seconds >= sum(timer.epoch_seconds) > 0


def _learning_rates(schedule, steps):
    return np.array([float(schedule(step)) for step in range(steps)])


def test_one_cycle_rises_then_falls():
    lrs = _learning_rates(train.one_cycle(100, max_lr=1e-2, warmup_fraction=0.3), 101)
    peak = int(np.argmax(lrs))
    assert peak == 30 and lrs[peak] == pytest.approx(1e-2, rel=1e-5)
    assert lrs[0] == pytest.approx(1e-3)  # starts at max_lr / 10
    assert np.all(np.diff(lrs[:peak + 1]) > 0) and np.all(np.diff(lrs[peak:]) <= 1e-12)
    assert lrs[-1] == pytest.approx(1e-2 * 1e-3, rel=1e-3)  # ends at max_lr · final_fraction
    assert float(train.one_cycle(10, max_lr=1.0, start_lr=0.5)(0)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="total_steps"):
        train.one_cycle(0)


def test_compile_model_picks_the_loss():
    model = train.compile_model(_tiny_model())
    assert isinstance(model.loss, keras.losses.SparseCategoricalCrossentropy)
    model = train.compile_model(_tiny_model(), one_hot=True, label_smoothing=0.1)
    assert isinstance(model.loss, keras.losses.CategoricalCrossentropy)


def test_unknown_recipe_names_the_known_ones():
    with pytest.raises(KeyError, match="fashion_mnist/reference"):
        train.get_recipe("fashion_mnist", "nope")


@pytest.mark.parametrize("name", ["reference", "course", "course_long"])
def test_fit_recipe_runs_on_a_tiny_subset(name, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(96, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=96).astype(np.uint8)
    recipe = train.get_recipe("fashion_mnist", name)
    result = train.fit_recipe(recipe, x, y, x[:32], y[:32], 10, epochs=1, work_dir=tmp_path / "work", verbose=0)
    assert result.epochs_run == 1 and result.wall_seconds > 0
    # the reported accuracy is the model's on the test images it was given, prepared as for training
    x_test = x[:32, ..., None].astype("float32") / 255
    probs = result.model.predict(x_test, batch_size=512, verbose=0)
    if recipe.flip_tta:
        probs = (probs + result.model.predict(x_test[:, :, ::-1], batch_size=512, verbose=0)) / 2
    assert result.test_accuracy == pytest.approx(accuracy_score(y[:32], probs.argmax(axis=1)), abs=1e-9)
    # the reference recipe keeps its best epoch on disk (ModelCheckpoint), the others keep nothing
    checkpoint = tmp_path / "work" / f"{name}_best.keras"
    assert checkpoint.exists() == recipe.checkpoint
    if recipe.checkpoint:
        assert keras.models.load_model(checkpoint).count_params() == result.model.count_params()
    row = result.row("fashion_mnist")
    assert set(row) >= {"dataset", "recipe", "test_accuracy", "wall_seconds"}


@pytest.mark.parametrize("name,changes,epochs", [("reference", {}, 2), ("course", {"batch_size": 32}, 3)])
def test_fit_recipe_learns_a_learnable_task(name, changes, epochs, tmp_path):
    """Far above chance (1/3) on test images it never saw; the small batches give BatchNorm enough steps."""
    x, y = bars(400)
    x_test, y_test = bars(90, seed=1)
    config.set_seed(0)
    recipe = dataclasses.replace(train.get_recipe("fashion_mnist", name), **changes)
    result = train.fit_recipe(recipe, x, y, x_test, y_test, 3, epochs=epochs, work_dir=tmp_path, verbose=0)
    assert result.test_accuracy >= 0.7, result.test_accuracy


def test_accuracy_curve_writes_each_epoch_into_the_history_without_its_own_time(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(96, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=96).astype(np.uint8)
    curve = train.AccuracyCurve(x[:32], y[:32])
    result = train.fit_recipe(train.get_recipe("fashion_mnist", "course"), x, y, x[:32], y[:32], 10, epochs=2,
                              work_dir=tmp_path, verbose=0, callbacks=[curve])
    seconds, accuracy = result.history["train_seconds"], result.history["heldout_accuracy"]
    assert len(seconds) == len(accuracy) == 2
    assert 0 < seconds[0] < seconds[1] == pytest.approx(curve.train_seconds)
    assert curve.eval_seconds > 0
    assert seconds[1] + curve.eval_seconds <= result.wall_seconds, "training and evaluation time kept apart"
    assert accuracy[-1] == pytest.approx(result.test_accuracy)  # the same model, the same images


def test_accuracy_curve_feeds_the_callbacks_after_it(tmp_path):
    """Early stopping can watch the held-out accuracy the curve writes into the logs."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(64, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=64).astype(np.uint8)
    seen = []
    watcher = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(dict(logs)))
    train.fit_recipe(dataclasses.replace(train.get_recipe("fashion_mnist", "course"), batch_size=32), x, y,
                     x[:8], y[:8], 10, epochs=2, work_dir=tmp_path, verbose=0,
                     callbacks=[train.AccuracyCurve(x[:32], y[:32]), watcher])
    assert [sorted({"train_seconds", "heldout_accuracy"} & set(logs)) for logs in seen] == [
        ["heldout_accuracy", "train_seconds"]] * 2


def test_bench_curve_is_switched_by_the_environment(monkeypatch):
    from course_tools.bench import recipes as bench_recipes

    monkeypatch.delenv("COURSE_BENCH_CURVE", raising=False)
    assert not bench_recipes.wants_curve()
    monkeypatch.setenv("COURSE_BENCH_CURVE", "0")
    assert not bench_recipes.wants_curve()
    monkeypatch.setenv("COURSE_BENCH_CURVE", "1")
    assert bench_recipes.wants_curve()


def test_bench_datasets_env_is_checked(monkeypatch):
    from course_tools.bench import recipes as bench_recipes

    monkeypatch.setenv("COURSE_BENCH_DATASETS", "fashion_mnist")
    assert bench_recipes.selected_datasets() == ["fashion_mnist"]
    monkeypatch.setenv("COURSE_BENCH_DATASETS", "imagenet")
    with pytest.raises(ValueError, match="COURSE_BENCH_DATASETS.*imagenet"):
        bench_recipes.selected_datasets()


def test_bench_recipes_env_keeps_the_reference(monkeypatch):
    from course_tools.bench import recipes as bench_recipes

    monkeypatch.delenv("COURSE_BENCH_RECIPES", raising=False)
    assert set(bench_recipes.selected_recipes()) == {r for _, r in train.RECIPES}
    monkeypatch.setenv("COURSE_BENCH_RECIPES", "course")
    assert bench_recipes.selected_recipes() == ["reference", "course"]
    monkeypatch.setenv("COURSE_BENCH_RECIPES", "course,fastest")
    with pytest.raises(ValueError, match="COURSE_BENCH_RECIPES.*fastest"):
        bench_recipes.selected_recipes()


def test_notebook_05_trains_every_setting_of_the_fashion_recipes():
    """Notebook 05 trains the reference and ``course_fast`` in plain Keras, reading their values from ``get_recipe``.

    It implements the settings checked true here and none of those checked empty; a recipe that gains one (say,
    an EMA of the weights) must be taught there too before this test is updated. The values themselves (epochs,
    widths, learning rate) may change: the notebook reads each of them from the recipe, as checked at the end.
    """
    fast = train.get_recipe("fashion_mnist", "course_fast")
    assert (fast.build, fast.tf_data, fast.one_hot, fast.optimizer) == ("fast_cnn", True, False, "sgd")
    assert (fast.weight_decay, fast.ema, fast.translate_tta, fast.validation_split, fast.early_stopping,
            fast.checkpoint) == (None, None, 0, 0.0, None, False)
    assert fast.augment.startswith("translate_flip") and fast.flip_tta and fast.max_lr and fast.label_smoothing > 0
    assert fast.precision in (None, "mixed_bfloat16") and set(fast.build_kwargs) <= {"widths", "l2"}
    import nbformat

    from course_tools.run import list_notebooks

    path = next(p for p in list_notebooks() if p.stem == "05_training")
    code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    assert 'get_recipe("fashion_mnist", "course_fast")' in code
    for setting in ("build_kwargs", "epochs", "batch_size", "max_lr", "warmup_fraction", "momentum",
                    "label_smoothing", "augment", "flip_tta", "precision"):
        assert f"course_recipe.{setting}" in code, f"notebook 05 does not read course_fast's {setting}"
    assert "nesterov=True" in code and "set_whitening" in code
    reference = train.get_recipe("fashion_mnist", "reference")
    assert (reference.build, reference.build_kwargs, reference.tf_data, reference.one_hot) == (
        "fashion_reference_cnn", {}, False, False)
    assert (reference.augment, reference.weight_decay, reference.max_lr, reference.label_smoothing,
            reference.flip_tta) == (None, None, None, 0.0, False)
    assert reference.early_stopping and reference.checkpoint and 0 < reference.validation_split < 1
