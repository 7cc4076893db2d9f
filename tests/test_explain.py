"""Grad-CAM (course_utils.explain): a hand computation, where the heat lands, and the errors that name the problem."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils import explain
from synthetic import SIZE, square_images



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


@pytest.fixture(scope="module")
def square_logits(square_model):
    return explain.without_softmax(square_model)


def linear_model(conv_kernel, dense_kernel, size=5, softmax=True):
    """Input → Conv2D 1x1 (no bias, linear) → global average → Dense (no bias): every gradient is known by hand.

    ``conv_kernel`` is (input channels, feature maps), ``dense_kernel`` (feature maps, classes).
    """
    conv_kernel = np.asarray(conv_kernel, "float32")
    inputs = keras.Input((size, size, conv_kernel.shape[0]))
    maps = keras.layers.Conv2D(conv_kernel.shape[1], 1, use_bias=False, name="conv")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(maps)
    outputs = keras.layers.Dense(dense_kernel.shape[1], use_bias=False, activation="softmax" if softmax else None,
                                 name="scores")(pooled)
    model = keras.Model(inputs, outputs)
    model.get_layer("conv").set_weights([conv_kernel.reshape(1, 1, *conv_kernel.shape)])
    model.get_layer("scores").set_weights([np.asarray(dense_kernel, "float32")])
    return model


def hand_grad_cam(image, conv_kernel, dense_kernel, c):
    """Grad-CAM of the linear model by hand: maps A = x K; d score_c / d A_k(i, j) = W[k, c] / (h w) everywhere."""
    maps = image @ conv_kernel  # (h, w, feature maps)
    weights = dense_kernel[:, c] / (image.shape[0] * image.shape[1])  # the mean gradient of each map
    cam = np.maximum(maps @ weights, 0)
    return cam / cam.max() if cam.max() > 0 else cam


def test_heat_map_matches_a_hand_computation_for_each_class():
    rng = np.random.default_rng(0)
    conv_kernel, dense_kernel = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    model = explain.without_softmax(linear_model(conv_kernel, dense_kernel))
    images = rng.normal(size=(2, 5, 5, 2)).astype("float32")  # two channels, positive and negative values
    maps = {c: explain.grad_cam(model, images, class_index=c) for c in range(4)}
    for c in range(4):
        for n in range(2):
            np.testing.assert_allclose(maps[c][n], hand_grad_cam(images[n], conv_kernel, dense_kernel, c),
                                       atol=1e-5, err_msg=f"class {c}, image {n}")
    for a in range(4):
        for b in range(a):
            assert not np.allclose(maps[a], maps[b], atol=0.05), f"classes {a} and {b} must get different maps"
    # one class per image, and the default: each image's own top class
    np.testing.assert_allclose(explain.grad_cam(model, images, class_index=[2, 3]),
                               np.stack([maps[2][0], maps[3][1]]), atol=1e-6)
    top = model.predict(images, verbose=0).argmax(axis=1)
    np.testing.assert_allclose(explain.grad_cam(model, images), np.stack([maps[top[0]][0], maps[top[1]][1]]),
                               atol=1e-6)


def test_opposite_classes_light_up_opposite_pixels():
    """Class 0 rises with the conv map, class 1 falls with it: their maps cover complementary pixels."""
    model = explain.without_softmax(linear_model([[1.0]], np.array([[1.0, -1.0]]), size=4))
    image = np.array([[1, -1, 2, 0], [0, 3, -2, 1], [-1, 0, 1, 1], [2, -3, 0, 1]], "float32")[None, ..., None]
    for_0, for_1 = explain.grad_cam(model, image, class_index=0)[0], explain.grad_cam(model, image, class_index=1)[0]
    np.testing.assert_array_equal(for_0 > 0, image[0, ..., 0] > 0)
    np.testing.assert_array_equal(for_1 > 0, image[0, ..., 0] < 0)
    assert for_0.max() == pytest.approx(1.0) and for_1.max() == pytest.approx(1.0)


def test_without_softmax_outputs_the_logits_and_leaves_the_model_alone():
    rng = np.random.default_rng(1)
    dense_kernel = rng.normal(size=(2, 3)) * 40  # large scores: the softmax saturates at 1.0 in float32
    model = linear_model([[1.0, 1.0]], dense_kernel)
    images = np.abs(rng.normal(size=(3, 5, 5, 1))).astype("float32") + 1
    logits_model = explain.without_softmax(model)
    probabilities, logits = model.predict(images, verbose=0), logits_model.predict(images, verbose=0)
    np.testing.assert_allclose(tf.nn.softmax(logits).numpy(), probabilities, atol=1e-6)
    np.testing.assert_allclose(logits, images.mean(axis=(1, 2, 3))[:, None] * dense_kernel.sum(axis=0), rtol=1e-4)
    assert model.layers[-1].activation is keras.activations.softmax, "the original keeps its softmax"
    assert (probabilities.max(axis=1) == 1.0).any(), "the example must saturate the softmax"
    heat = explain.grad_cam(logits_model, images)
    assert (heat.reshape(3, -1).max(axis=1) == pytest.approx(1.0)), "logits still give a map where p = 1.0"


def test_shape_range_and_batch_consistency(square_logits):
    x, y, _ = square_images(6, seed=2)
    heat = explain.grad_cam(square_logits, x)
    assert heat.shape == (6, SIZE, SIZE) and heat.dtype == np.float32
    assert heat.min() >= 0.0 and heat.max() <= 1.0
    peaks = heat.reshape(6, -1).max(axis=1)
    assert (y == 0).any() and (y == 1).any()
    np.testing.assert_allclose(peaks[y == 0], 1.0, atol=1e-6)  # a square: scaled so that its peak is 1
    assert set(np.round(peaks, 6)) <= {0.0, 1.0}  # noise only: may be all zero (nothing argues for the class)
    np.testing.assert_allclose(explain.grad_cam(square_logits, x[:1])[0], heat[0], atol=1e-5)


def test_heat_map_mass_is_where_the_square_is(square_logits):
    x, y, side = square_images(40, seed=3)
    x, side = x[y == 0], side[y == 0]
    assert 0 < side.sum() < len(side)  # squares on both sides
    heat = explain.grad_cam(square_logits, x, class_index=0)
    half = SIZE // 2
    left, right = heat[:, :, :half].sum(axis=(1, 2)), heat[:, :, half:].sum(axis=(1, 2))
    on_square_side = np.where(side == 0, left > 2 * right, right > 2 * left)
    assert on_square_side.mean() >= 0.9, (side, left, right)


def test_layer_name_chooses_the_feature_maps(square_logits):
    x, _, _ = square_images(1, seed=4)
    assert explain.last_conv_layer_name(square_logits) == "last_conv"
    np.testing.assert_allclose(explain.grad_cam(square_logits, x, layer_name="last_conv"),
                               explain.grad_cam(square_logits, x), atol=1e-6)
    first_conv = next(layer.name for layer in square_logits.layers if isinstance(layer, keras.layers.Conv2D))
    assert not np.allclose(explain.grad_cam(square_logits, x, layer_name=first_conv),
                           explain.grad_cam(square_logits, x), atol=1e-3)


def test_errors_name_the_problem(square_model, square_logits):
    x, _, _ = square_images(1)
    with pytest.raises(ValueError, match="before the softmax.*without_softmax"):
        explain.grad_cam(square_model, x)
    with pytest.raises(ValueError, match="nope"):
        explain.grad_cam(square_logits, x, layer_name="nope")
    with pytest.raises(ValueError, match="Grad-CAM needs feature maps"):
        explain.grad_cam(square_logits, x, layer_name=square_logits.layers[-1].name)
    with pytest.raises(ValueError, match="class_index 5 is not a class of a model with 2 classes"):
        explain.grad_cam(square_logits, x, class_index=5)
    with pytest.raises(ValueError, match="not a class"):
        explain.grad_cam(square_logits, x, class_index=[-1])
    dense_in = keras.Input((4, 4, 1))
    dense = keras.Model(dense_in, keras.layers.Dense(2)(keras.layers.Flatten()(dense_in)), name="no_conv")
    with pytest.raises(ValueError, match="'no_conv' has no Conv2D"):
        explain.grad_cam(dense, np.zeros((1, 4, 4, 1), "float32"))


def test_a_nested_convolutional_base_gets_a_clear_error_and_the_flat_build_works():
    inner_in = keras.Input((8, 8, 3))
    base = keras.Model(inner_in, keras.layers.Conv2D(4, 3, padding="same", name="base_conv")(inner_in), name="base")
    head = keras.Sequential([keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)], name="head")
    inputs = keras.Input((8, 8, 3))
    nested = keras.Model(inputs, head(base(inputs)), name="nested")
    with pytest.raises(ValueError, match="inside the nested model 'base'.*base.input"):
        explain.grad_cam(nested, np.zeros((1, 8, 8, 3), "float32"))
    flat = keras.Model(base.input, head(base.output), name="flat")  # what the message advises
    assert explain.last_conv_layer_name(flat) == "base_conv"
    image = np.random.default_rng(0).uniform(size=(1, 8, 8, 3)).astype("float32")
    assert explain.grad_cam(flat, image).shape == (1, 8, 8)


def test_augmentation_layers_change_nothing_at_inference():
    def build(augment):
        inputs = keras.Input((12, 12, 1))
        x = keras.Sequential([keras.layers.RandomFlip(seed=1), keras.layers.RandomTranslation(0.2, 0.2, seed=2)],
                             name="augment")(inputs) if augment else inputs
        x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="probabilities")(x))

    keras.utils.set_random_seed(3)
    plain, augmented = build(False), build(True)
    for name in ("conv", "probabilities"):
        augmented.get_layer(name).set_weights(plain.get_layer(name).get_weights())
    image = np.random.default_rng(2).uniform(size=(2, 12, 12, 1)).astype("float32")
    np.testing.assert_allclose(explain.grad_cam(explain.without_softmax(augmented), image),
                               explain.grad_cam(explain.without_softmax(plain), image), atol=1e-6)


def test_sequential_models_and_activation_layers_work_too():
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(3), keras.layers.Activation("softmax")])
    with pytest.raises(ValueError, match="without_softmax"):
        explain.grad_cam(model, np.zeros((1, 8, 8, 1), "float32"))
    logits_model = explain.without_softmax(model)
    image = np.random.default_rng(0).uniform(size=(1, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(tf.nn.softmax(logits_model.predict(image, verbose=0)).numpy(),
                               model.predict(image, verbose=0), atol=1e-6)
    heat = explain.grad_cam(logits_model, image)
    assert heat.shape == (1, 8, 8) and 0 <= heat.min() and heat.max() <= 1


def test_overlay_is_rgb_in_unit_range():
    from course_utils import plots

    image = np.arange(16 * 16, dtype=np.uint8).reshape(16, 16)
    out = plots.overlay(image, np.linspace(0, 1, 256, dtype="float32").reshape(16, 16))
    assert out.shape == (16, 16, 3) and out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError, match="differ in size"):
        plots.overlay(image, np.zeros((8, 8)))
