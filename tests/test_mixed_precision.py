"""The GPU's code path, run on a CPU: the mixed_float16 dtype policy forced for each test.

On a GPU, ``Run`` makes ``mixed_float16`` the global dtype policy (float16 compute, float32 weights). A CPU only
emulates float16, so nobody would choose it there, but forcing it is how CI keeps that path working: every model of
the library must still end in float32 probabilities, train, predict and explain itself with Grad-CAM.
"""
import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils import Run, evaluate, explain, models, train, transfer
from synthetic import SIZE, bars, square_images



BUILDERS = {
    "fashion_reference_cnn": lambda: models.fashion_reference_cnn((28, 28, 1), 10),
    "cifar_reference_cnn": lambda: models.cifar_reference_cnn((32, 32, 3), 10),
    "small_cnn": lambda: models.small_cnn((28, 28, 1), 10, dropout=0.3, l2=1e-4, batchnorm=True),
    "course_cnn": lambda: models.course_cnn((28, 28, 1), 10),
    "course_resnet": lambda: models.course_resnet((32, 32, 3), 10),
    "fast_cnn": lambda: models.fast_cnn((32, 32, 3), 10, widths=(8, 8, 8)),
}


def test_every_model_builder_of_the_library_is_checked_here():
    builders = {name for name, function in inspect.getmembers(models, inspect.isfunction)
                if function.__module__ == models.__name__ and "num_classes" in inspect.signature(function).parameters}
    assert builders == set(BUILDERS)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_library_models_compute_in_float16_and_output_float32_probabilities(name, mixed_precision):
    model = BUILDERS[name]()
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convolutions and all(layer.compute_dtype == "float16" for layer in convolutions), "really mixed"
    assert all(w.dtype == "float32" for w in model.weights), "weights stay float32"
    assert model.outputs[0].dtype == "float32"
    images = np.random.default_rng(0).integers(0, 256, size=(64, *model.input_shape[1:]), dtype=np.uint8)
    raw = model.predict(images.astype("float32") / 255, verbose=0)
    assert raw.dtype == np.float32
    np.testing.assert_allclose(raw.sum(axis=1), 1, atol=1e-5)
    proba = evaluate.predict_proba(model, images)  # outputs="probabilities": checked, not guessed
    np.testing.assert_allclose(proba, raw, atol=1e-4)  # float16 compute: batches of other sizes round apart


def test_a_float16_softmax_is_refused_with_the_fix_in_the_message(mixed_precision):
    """What every model ended in before: its rows are up to ~1e-3 off 1, and predict_proba says what to change."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    features = keras.layers.Flatten()(keras.layers.Conv2D(4, 3, activation="relu")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(features))
    images = np.random.default_rng(0).uniform(size=(64, 8, 8, 1)).astype("float32")
    assert model.predict(images, verbose=0).dtype == np.float16
    with pytest.raises(ValueError, match='dtype="float32"'):
        evaluate.predict_proba(model, images)


def test_a_short_fit_learns_under_mixed_precision(mixed_precision, tmp_path):
    """The reference recipe, float16 compute, built under a given strategy: it learns (chance is 1/3)."""
    x, y = bars(400)
    x_test, y_test = bars(90, seed=1)
    keras.utils.set_random_seed(0)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    result = train.fit_recipe(train.get_recipe("fashion_mnist", "reference"), x, y, x_test, y_test, 3, epochs=2,
                              work_dir=tmp_path, verbose=0, strategy=strategy)
    assert result.model.distribute_strategy is strategy
    assert result.model.get_layer("conv1").compute_dtype == "float16"
    assert np.isfinite(result.history["loss"]).all() and result.history["loss"][-1] < result.history["loss"][0]
    assert result.test_accuracy >= 0.7, result.test_accuracy


def test_predict_proba_both_ways_on_a_mixed_precision_model(mixed_precision):
    keras.utils.set_random_seed(1)
    model = models.small_cnn((28, 28, 1), 4)
    images = np.random.default_rng(1).integers(0, 256, size=(32, 28, 28), dtype=np.uint8)
    proba = evaluate.predict_proba(model, images, outputs="probabilities")
    logits_model = explain.without_softmax(model)
    assert logits_model.outputs[0].dtype == "float32"
    from_logits = evaluate.predict_proba(logits_model, images, outputs="logits")
    np.testing.assert_allclose(from_logits, proba, atol=1e-6)
    with pytest.raises(ValueError, match='outputs="logits"'):
        evaluate.predict_proba(logits_model, images)


def square_cnn(head_dtype="float32"):
    inputs = keras.Input((SIZE, SIZE, 1))
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="last_conv")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax", dtype=head_dtype)(h))


@pytest.fixture(scope="module")
def square_weights():
    """Weights of a tiny CNN trained in float32 to tell 'a bright square somewhere' from 'noise only'."""
    keras.utils.set_random_seed(0)
    model = square_cnn()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x, y, _ = square_images(384)
    model.fit(x, y, epochs=5, batch_size=64, verbose=0)
    x_test, y_test, _ = square_images(64, seed=1)
    assert model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"] > 0.95
    return model.get_weights()


@pytest.mark.parametrize("head_dtype", ["float32", None], ids=["float32 head", "float16 head"])
def test_grad_cam_under_mixed_precision_finds_what_float32_finds(square_weights, head_dtype):
    """The same weights computed in float16: finite maps in [0, 1] on the square's side, as in float32."""
    x, y, side = square_images(40, seed=3)
    x, side = x[y == 0], side[y == 0]
    reference = square_cnn()
    reference.set_weights(square_weights)
    expected = explain.grad_cam(explain.without_softmax(reference), x, class_index=0)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        mixed = square_cnn(head_dtype)
        mixed.set_weights(square_weights)
        logits_model = explain.without_softmax(mixed)
        assert logits_model.get_layer("last_conv").compute_dtype == "float16"
        assert logits_model.outputs[0].dtype == ("float32" if head_dtype else "float16")
        heat = explain.grad_cam(logits_model, x, class_index=0)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert heat.dtype == np.float32 and np.isfinite(heat).all() and heat.min() >= 0 and heat.max() <= 1
    half = SIZE // 2
    mixed_side = heat[:, :, half:].sum(axis=(1, 2)) > heat[:, :, :half].sum(axis=(1, 2))
    expected_side = expected[:, :, half:].sum(axis=(1, 2)) > expected[:, :, :half].sum(axis=(1, 2))
    np.testing.assert_array_equal(mixed_side, expected_side)
    assert (mixed_side == side.astype(bool)).mean() >= 0.9
    peaks = np.array([np.unravel_index(m.argmax(), m.shape) for m in heat])
    expected_peaks = np.array([np.unravel_index(m.argmax(), m.shape) for m in expected])
    assert np.abs(peaks - expected_peaks).max() <= 2, "the hottest pixel within a feature-map cell of float32's"
    np.testing.assert_allclose(heat, expected, atol=0.05)


def test_transfer_model_head_is_float32_over_a_float16_backbone(mixed_precision):
    base = transfer.pretrained_base(None, 32)  # random weights: only the dtypes matter here
    model = transfer.build_transfer_model(base, 3, (16, 16, 3))
    assert base.get_layer("conv_pw_13").compute_dtype == "float16"
    assert model.layers[-1].compute_dtype == "float32" and model.outputs[0].dtype == "float32"
    images = np.random.default_rng(0).uniform(0, 255, (8, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(model.predict(images, verbose=0).sum(axis=1), 1, atol=1e-5)


def test_run_sets_the_policy_and_gives_a_strategy_to_build_under(mixed_precision, tmp_path):
    keras.mixed_precision.set_global_policy("float32")
    run = Run("smoke", build_dir=tmp_path, precision="mixed_float16", verbose=False)
    assert run.precision == keras.mixed_precision.global_policy().name == "mixed_float16"
    with run.strategy.scope():
        model = models.small_cnn((28, 28, 1), 10)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert model.distribute_strategy is run.strategy
    assert model.get_layer("conv1").compute_dtype == "float16" and model.outputs[0].dtype == "float32"
    with pytest.raises(ValueError, match="PRECISION must be None or one of"):
        Run("smoke", build_dir=tmp_path, precision="float16", verbose=False)


def test_without_a_gpu_the_run_defaults_to_float32_and_deterministic_ops(tmp_path, mixed_precision):
    """Even after mixed precision was on (the fixture), a Run on a CPU sets float32 again."""
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    run = Run("smoke", build_dir=tmp_path, verbose=False)
    assert run.precision == keras.mixed_precision.global_policy().name == "float32"
    assert run.deterministic and run.strategy.num_replicas_in_sync == 1
