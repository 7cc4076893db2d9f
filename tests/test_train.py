"""Training helpers: callbacks, schedules, resuming an interrupted run, the device set-up, the recipes."""
import keras
import numpy as np
import pytest

from course_utils import train


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


def test_standard_callbacks(tmp_path):
    cbs = train.standard_callbacks(tmp_path / "best.keras", patience=2, backup_dir=tmp_path / "backup")
    kinds = [type(c).__name__ for c in cbs]
    assert kinds == ["EarlyStopping", "ModelCheckpoint", "BackupAndRestore"]
    assert cbs[0].patience == 2 and cbs[0].restore_best_weights
    assert train.standard_callbacks(patience=None) == []


def test_checkpoint_writes_a_keras_file_that_loads(tmp_path):
    x, y = _tiny_data()
    model = _tiny_model()
    path = tmp_path / "sub" / "best.keras"
    model.fit(x, y, validation_split=0.25, epochs=2, verbose=0, callbacks=[train.checkpoint(path)])
    assert path.exists()
    reloaded = keras.models.load_model(path)
    assert reloaded.predict(x[:2], verbose=0).shape == (2, 3)


def test_checkpoint_rejects_other_suffixes(tmp_path):
    with pytest.raises(ValueError, match=r"best\.h5.*\.keras"):
        train.checkpoint(tmp_path / "best.h5")


def test_backup_and_restore_resumes_an_interrupted_run(tmp_path):
    x, y = _tiny_data()
    backup = tmp_path / "backup"
    model = _tiny_model()
    with pytest.raises(train.TrainingInterrupted, match="after epoch 2"):
        model.fit(x, y, epochs=5, verbose=0, callbacks=[train.backup_and_restore(backup), train.InterruptAfter(2)])
    assert any(backup.iterdir()), "a backup must be left behind by the interrupted run"
    resumed = _tiny_model()
    history = resumed.fit(x, y, epochs=5, verbose=0, callbacks=[train.backup_and_restore(backup)])
    assert len(history.history["loss"]) == 3  # epochs 3, 4, 5 only
    assert not backup.exists() or not any(backup.iterdir())  # deleted after a normal finish


def test_timer_measures_epochs():
    x, y = _tiny_data()
    timer = train.Timer()
    _tiny_model().fit(x, y, epochs=3, verbose=0, callbacks=[timer])
    assert len(timer.epoch_seconds) == 3 and timer.seconds >= sum(timer.epoch_seconds) > 0


def test_one_cycle_rises_then_falls():
    lrs = train.lr_curve(train.one_cycle(100, max_lr=1e-2, warmup_fraction=0.3), 100)
    peak = int(np.argmax(lrs))
    assert 25 <= peak <= 31 and lrs[peak] == pytest.approx(1e-2, rel=1e-3)
    assert lrs[0] < lrs[peak] and lrs[-1] < lrs[0]
    assert np.all(np.diff(lrs[peak:]) <= 1e-12)
    with pytest.raises(ValueError, match="total_steps"):
        train.one_cycle(0)


def test_cosine_schedule_decays():
    lrs = train.lr_curve(train.cosine(50, lr=1e-3), 51)
    assert lrs[0] == pytest.approx(1e-3) and lrs[-1] == pytest.approx(0.0, abs=1e-9)


def test_configure_device_is_a_no_op_on_cpu(capsys):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    before = keras.mixed_precision.global_policy().name
    strategy = train.configure_device()
    assert keras.mixed_precision.global_policy().name == before == "float32"
    assert strategy is tf.distribute.get_strategy()
    assert "nothing changed" in capsys.readouterr().out


def test_compile_model_picks_the_loss():
    model = train.compile_model(_tiny_model(), 3)
    assert isinstance(model.loss, keras.losses.SparseCategoricalCrossentropy)
    model = train.compile_model(_tiny_model(), 3, one_hot=True, label_smoothing=0.1)
    assert isinstance(model.loss, keras.losses.CategoricalCrossentropy)


def test_unknown_recipe_names_the_known_ones():
    with pytest.raises(KeyError, match="fashion_mnist/reference"):
        train.get_recipe("fashion_mnist", "nope")


@pytest.mark.parametrize("name", ["reference", "course", "course_long"])
def test_fit_recipe_runs_on_a_tiny_subset(name, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(96, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=96).astype(np.uint8)
    result = train.fit_recipe(train.get_recipe("fashion_mnist", name), x, y, x[:32], y[:32], 10, epochs=1,
                              work_dir=tmp_path, verbose=0)
    assert 0.0 <= result.test_accuracy <= 1.0 and result.epochs_run == 1 and result.wall_seconds > 0
    row = result.row("fashion_mnist")
    assert set(row) >= {"dataset", "recipe", "test_accuracy", "wall_seconds"}


def test_flip_tta_averages_each_image_with_its_mirror():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 5, 1))  # a model that is not mirror-symmetric: a dense layer on the raw pixels
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs)))
    images = np.random.default_rng(0).integers(0, 255, size=(4, 6, 5), dtype=np.uint8)
    plain = train.predict_probabilities(model, images)
    mirrored = train.predict_probabilities(model, images[:, :, ::-1])
    assert not np.allclose(plain, mirrored)
    np.testing.assert_allclose(train.predict_probabilities(model, images, flip_tta=True), (plain + mirrored) / 2,
                               rtol=1e-5, atol=1e-6)


def test_test_curve_records_each_epoch_without_its_own_time(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(96, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=96).astype(np.uint8)
    curve = train.TestCurve(x[:32], y[:32])
    result = train.fit_recipe(train.get_recipe("fashion_mnist", "course"), x, y, x[:32], y[:32], 10, epochs=2,
                              work_dir=tmp_path, verbose=0, callbacks=[curve])
    assert [row["epoch"] for row in curve.rows] == [1, 2]
    assert 0 < curve.rows[0]["train_seconds"] < curve.rows[1]["train_seconds"]
    assert curve.eval_seconds > 0
    assert curve.rows[1]["train_seconds"] <= result.wall_seconds - curve.eval_seconds + 0.05
    assert curve.rows[-1]["test_accuracy"] == round(result.test_accuracy, 4)  # the same model, the same images


def test_bench_curve_is_switched_by_the_environment(monkeypatch):
    from course_utils import bench_recipes

    monkeypatch.delenv("COURSE_BENCH_CURVE", raising=False)
    assert not bench_recipes.wants_curve()
    monkeypatch.setenv("COURSE_BENCH_CURVE", "0")
    assert not bench_recipes.wants_curve()
    monkeypatch.setenv("COURSE_BENCH_CURVE", "1")
    assert bench_recipes.wants_curve()


def test_bench_datasets_env_is_checked(monkeypatch):
    from course_utils import bench_recipes

    monkeypatch.setenv("COURSE_BENCH_DATASETS", "fashion_mnist")
    assert bench_recipes.selected_datasets() == ["fashion_mnist"]
    monkeypatch.setenv("COURSE_BENCH_DATASETS", "imagenet")
    with pytest.raises(ValueError, match="COURSE_BENCH_DATASETS.*imagenet"):
        bench_recipes.selected_datasets()


def test_bench_recipes_env_keeps_the_reference(monkeypatch):
    from course_utils import bench_recipes

    monkeypatch.delenv("COURSE_BENCH_RECIPES", raising=False)
    assert set(bench_recipes.selected_recipes()) == {r for _, r in train.RECIPES}
    monkeypatch.setenv("COURSE_BENCH_RECIPES", "course")
    assert bench_recipes.selected_recipes() == ["reference", "course"]
    monkeypatch.setenv("COURSE_BENCH_RECIPES", "course,fastest")
    with pytest.raises(ValueError, match="COURSE_BENCH_RECIPES.*fastest"):
        bench_recipes.selected_recipes()
