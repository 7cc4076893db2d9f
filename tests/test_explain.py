"""Grad-CAM (course_utils.explain): shape, range, and that it points at the part of the image that decides."""
import keras
import numpy as np
import pytest

from course_utils import explain

SIZE = 16


def square_images(n, seed=0):
    """Noisy 16x16 images: class 0 has one bright 4x4 square (in the left or right half), class 1 is noise only.

    Returns images, labels and the side of the square (0: left, 1: right; meaningless for class 1).
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 0.3, size=(n, SIZE, SIZE, 1)).astype("float32")
    y = rng.integers(0, 2, size=n)
    side = rng.integers(0, 2, size=n)
    for i in np.flatnonzero(y == 0):
        col = rng.integers(0, SIZE // 2 - 4 + 1) + (SIZE // 2 if side[i] else 0)
        row = rng.integers(0, SIZE - 4 + 1)
        x[i, row:row + 4, col:col + 4, 0] = 1.0
    return x, y, side


@pytest.fixture(scope="module")
def square_model():
    """A tiny CNN trained (a few seconds) to tell 'a bright square somewhere' from 'noise only'."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 1))
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="last_conv")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    outputs = keras.layers.Dense(2, activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x, y, _ = square_images(384)
    model.fit(x, y, epochs=5, batch_size=64, verbose=0)
    x_test, y_test, _ = square_images(64, seed=1)
    accuracy = model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]
    assert accuracy > 0.95, f"the toy model did not learn the task (accuracy {accuracy:.2f})"
    return model


def test_shape_and_range_for_one_image_and_a_batch(square_model):
    x, _, _ = square_images(5, seed=2)
    heat = explain.grad_cam(square_model, x[0])
    assert heat.shape == (SIZE, SIZE)
    assert heat.dtype == np.float32
    assert heat.min() >= 0.0 and heat.max() <= 1.0
    assert heat.max() == pytest.approx(1.0)
    batch = explain.grad_cam(square_model, x)
    assert batch.shape == (5, SIZE, SIZE)
    np.testing.assert_allclose(batch[0], heat, atol=1e-5)


def test_heat_map_mass_is_where_the_square_is(square_model):
    x, y, side = square_images(40, seed=3)
    x, side = x[y == 0], side[y == 0]
    assert 0 < side.sum() < len(side)  # squares on both sides
    heat = explain.grad_cam(square_model, x, class_index=0)
    half = SIZE // 2
    left, right = heat[:, :, :half].sum(axis=(1, 2)), heat[:, :, half:].sum(axis=(1, 2))
    on_square_side = np.where(side == 0, left > 2 * right, right > 2 * left)
    assert on_square_side.mean() >= 0.9, (side, left, right)


def test_class_index_and_layer_name_choose_what_is_explained(square_model):
    x, _, _ = square_images(1, seed=4)
    by_name = explain.grad_cam(square_model, x[0], layer_name="last_conv")
    np.testing.assert_allclose(by_name, explain.grad_cam(square_model, x[0]), atol=1e-6)
    for c in (0, 1):
        heat = explain.grad_cam(square_model, x[0], class_index=c)
        assert heat.shape == (SIZE, SIZE) and 0 <= heat.min() and heat.max() <= 1


def test_uint8_grey_image_without_channel_axis_is_accepted(square_model):
    x, _, _ = square_images(1, seed=5)
    raw = (x[0, ..., 0] * 255).round().astype(np.uint8)
    heat = explain.grad_cam(square_model, raw)
    assert heat.shape == (SIZE, SIZE)
    np.testing.assert_allclose(heat, explain.grad_cam(square_model, raw / 255.0), atol=1e-5)


def test_last_conv_layer_found_and_nested_base_used():
    inner_in = keras.Input((8, 8, 3))
    inner = keras.Model(inner_in, keras.layers.Conv2D(4, 3, padding="same")(inner_in), name="base")
    inputs = keras.Input((8, 8, 3))
    h = inner(inputs)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(h))
    model = keras.Model(inputs, outputs)
    assert explain.last_conv_layer(model).name == "base"
    heat = explain.grad_cam(model, np.random.default_rng(0).uniform(size=(8, 8, 3)).astype("float32"))
    assert heat.shape == (8, 8) and 0 <= heat.min() and heat.max() <= 1


def test_errors_name_the_problem(square_model):
    x, _, _ = square_images(1)
    with pytest.raises(ValueError, match="no layer 'nope'.*last_conv"):
        explain.grad_cam(square_model, x[0], layer_name="nope")
    with pytest.raises(ValueError, match="Grad-CAM needs feature maps"):
        explain.grad_cam(square_model, x[0], layer_name=square_model.layers[-1].name)
    with pytest.raises(ValueError, match="out of range for 2 classes"):
        explain.grad_cam(square_model, x[0], class_index=5)
    with pytest.raises(ValueError, match="does not fit the model's input"):
        explain.grad_cam(square_model, np.zeros((2, 2, SIZE, SIZE, 1), "float32"))
    dense_in = keras.Input((4, 4, 1))
    dense = keras.Model(dense_in, keras.layers.Dense(2)(keras.layers.Flatten()(dense_in)), name="no_conv")
    with pytest.raises(ValueError, match="'no_conv' has no Conv2D"):
        explain.grad_cam(dense, np.zeros((4, 4, 1), "float32"))


def test_overlay_is_rgb_in_unit_range():
    image = np.arange(16 * 16, dtype=np.uint8).reshape(16, 16)
    out = explain.overlay(image, np.linspace(0, 1, 256, dtype="float32").reshape(16, 16))
    assert out.shape == (16, 16, 3) and out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError, match="differ in size"):
        explain.overlay(image, np.zeros((8, 8)))


def test_default_layer_is_the_last_conv_with_its_batchnorm_and_activation():
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, name="first")(inputs)
    h = keras.layers.Conv2D(4, 3, name="last", use_bias=False)(h)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.ReLU(name="relu")(h)
    h = keras.layers.MaxPooling2D(name="pool")(h)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(h)))
    assert explain.last_conv_layer(model).name == "relu"
    assert explain.grad_cam(model, np.ones((8, 8), np.uint8)).shape == (8, 8)


def test_uint8_grey_batch_without_channel_axis(square_model):
    x, _, _ = square_images(3, seed=6)
    raw = (x[..., 0] * 255).round().astype(np.uint8)
    assert explain.grad_cam(square_model, raw).shape == (3, SIZE, SIZE)


def test_sequential_models_work_too():
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    heat = explain.grad_cam(model, np.random.default_rng(0).uniform(size=(8, 8)).astype("float32"))
    assert heat.shape == (8, 8) and 0 <= heat.min() and heat.max() <= 1
