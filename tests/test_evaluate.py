"""Evaluation helpers (course_utils.evaluate): reports on known examples, image files of any size and mode."""
import keras
import numpy as np
import pytest
from PIL import Image

from course_utils import evaluate


def blob_images(n, size=28, seed=0):
    """Smooth uint8 images (a few Gaussian blobs): resizing them changes little, unlike noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = np.zeros((n, size, size))
    for i in range(n):
        for _ in range(3):
            cy, cx, s = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.08, 0.2)
            images[i] += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s ** 2))
    return (255 * images / images.max(axis=(1, 2), keepdims=True)).round().astype(np.uint8)


def tiny_model(input_shape=(28, 28, 1), num_classes=4, softmax=True):
    keras.utils.set_random_seed(1)
    inputs = keras.Input(input_shape)
    h = keras.layers.Conv2D(6, 5, strides=2, activation="relu")(inputs)
    h = keras.layers.Flatten()(h)
    outputs = keras.layers.Dense(num_classes, activation="softmax" if softmax else None,
                                 kernel_initializer=keras.initializers.RandomNormal(stddev=0.3, seed=2))(h)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def grey_model():
    return tiny_model()


# --- predict_proba ------------------------------------------------------------------------------

def test_predict_proba_batches_scales_and_softmaxes(grey_model):
    x = blob_images(10)
    proba = evaluate.predict_proba(grey_model, x, batch_size=3)
    assert proba.shape == (10, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    direct = grey_model.predict(x[..., None].astype("float32") / 255, verbose=0)
    np.testing.assert_allclose(proba, direct, atol=1e-5)
    # already-scaled floats are used as they are
    np.testing.assert_allclose(evaluate.predict_proba(grey_model, x / 255.0), direct, atol=1e-5)


def test_predict_proba_traces_a_model_once_whatever_the_number_of_images():
    """A shorter last batch would trace the model's predict function again; after a few models TensorFlow warns."""
    model = tiny_model()
    x = blob_images(10)
    proba = evaluate.predict_proba(model, x, batch_size=4)  # 4 + 4 + 2 images
    assert proba.shape == (10, 4)
    np.testing.assert_allclose(proba, model(x[..., None].astype("float32") / 255).numpy(), atol=1e-5)
    for n in (7, 3, 8):  # more calls, other sizes: the same trace
        assert evaluate.predict_proba(model, x[:n] / 255.0, batch_size=4).shape == (n, 4)
    # 3 images are one batch of 3, not 4: a second shape, after which tf.function generalises the batch size
    assert model.predict_function.experimental_get_tracing_count() <= 2
    model = tiny_model()
    for n in (10, 7, 9, 8):
        evaluate.predict_proba(model, x[:n], batch_size=4)
    assert model.predict_function.experimental_get_tracing_count() == 1


def test_predict_proba_is_told_what_the_model_outputs():
    """No guessing from the values: outputs="logits" applies a softmax, "probabilities" checks them and says what
    to do when they are not."""
    x = blob_images(10)
    logits_model = tiny_model(softmax=False)
    logits = logits_model.predict(x[..., None].astype("float32") / 255, verbose=0).astype("float64")
    from_logits = evaluate.predict_proba(logits_model, x, outputs="logits")
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(from_logits, expected, rtol=1e-6)
    with pytest.raises(ValueError, match='not probabilities.*outputs="logits".*dtype="float32"'):
        evaluate.predict_proba(logits_model, x)  # the default: "probabilities"
    with pytest.raises(ValueError, match="outputs must be one of"):
        evaluate.predict_proba(logits_model, x, outputs="scores")
    # logits that happen to look like probabilities are still logits: softmax([0.5, 0.5]) is not [0.5, 0.5] for a
    # model whose outputs are told to be logits, and is for one told they are probabilities
    looks_like_probabilities = np.array([[0.9, 0.1], [0.5, 0.5]])
    np.testing.assert_allclose(evaluate._as_probabilities(looks_like_probabilities, "probabilities"),
                               looks_like_probabilities)
    np.testing.assert_allclose(evaluate._as_probabilities(looks_like_probabilities, "logits")[0],
                               [1 / (1 + np.exp(-0.8)), 1 - 1 / (1 + np.exp(-0.8))])


def test_one_output_unit_is_the_probability_of_class_1_or_its_logit():
    np.testing.assert_allclose(evaluate._as_probabilities(np.array([[0.25], [1.0]])), [[0.75, 0.25], [0.0, 1.0]])
    np.testing.assert_allclose(evaluate._as_probabilities(np.array([[0.0], [-800.0]]), "logits"),
                               [[0.5, 0.5], [1.0, 0.0]])  # a sigmoid, without overflow
    with pytest.raises(ValueError, match="not a probability"):
        evaluate._as_probabilities(np.array([[2.5]]))


def test_predict_proba_resizes_to_the_model_input(grey_model):
    x56 = np.stack([np.asarray(Image.fromarray(im).resize((56, 56))) for im in blob_images(4)])
    assert evaluate.predict_proba(grey_model, x56).shape == (4, 4)
    with pytest.raises(ValueError, match="batch of images"):
        evaluate.predict_proba(grey_model, np.zeros(5, np.uint8))


# --- image files ----------------------------------------------------------------------------------

def test_same_size_grey_rgb_and_rgba_files_match_the_array_path(grey_model, tmp_path):
    image = blob_images(1, seed=3)[0]
    expected = evaluate.predict_proba(grey_model, image[None])
    variants = {"grey.png": Image.fromarray(image), "rgb.png": Image.fromarray(image).convert("RGB"),
                "rgba.png": Image.fromarray(image).convert("RGBA"), "grey.jpg": None}
    for name, img in variants.items():
        if img is None:
            continue
        img.save(tmp_path / name)
        x = evaluate.load_image_for_model(tmp_path / name, grey_model.input_shape)
        assert x.shape == (1, 28, 28, 1) and x.dtype == np.float32, name
        np.testing.assert_array_equal(x[0, ..., 0], image / np.float32(255), err_msg=name)
        np.testing.assert_allclose(grey_model.predict(x, verbose=0), expected, atol=1e-6, err_msg=name)


def test_other_size_rgb_file_gives_the_model_shape_and_the_same_prediction(grey_model, tmp_path):
    images = blob_images(6, seed=4)
    expected = evaluate.predict_proba(grey_model, images)
    for i, image in enumerate(images):
        path = tmp_path / f"big_{i}.png"
        Image.fromarray(image).convert("RGB").resize((112, 84), Image.Resampling.BICUBIC).save(path)
        x = evaluate.load_image_for_model(path, (28, 28, 1))
        assert x.shape == (1, 28, 28, 1)
        assert np.abs(x[0, ..., 0] - image / 255).mean() < 0.03
        proba = grey_model.predict(x, verbose=0)[0]
        assert proba.argmax() == expected[i].argmax()
        np.testing.assert_allclose(proba, expected[i], atol=0.05)


def test_grey_file_for_an_rgb_model_and_transparency_on_black(tmp_path):
    image = blob_images(1, size=32, seed=5)[0]
    Image.fromarray(image).save(tmp_path / "grey.png")
    x = evaluate.load_image_for_model(tmp_path / "grey.png", (32, 32, 3))
    assert x.shape == (1, 32, 32, 3)
    np.testing.assert_array_equal(x[0, ..., 0], x[0, ..., 2])
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[:, 16:, 3] = 255  # left half transparent white, right half opaque white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "half.png")
    x = evaluate.load_image_for_model(tmp_path / "half.png", (32, 32, 1))
    assert x[0, :, :16].max() == 0 and x[0, :, 16:].min() == 1
    palette = Image.fromarray(image).convert("P")
    palette.save(tmp_path / "palette.gif")
    assert evaluate.load_image_for_model(tmp_path / "palette.gif", (28, 28, 3)).shape == (1, 28, 28, 3)


def test_sixteen_bit_grey_and_aspect_padding(tmp_path):
    deep = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    x = evaluate.load_image_for_model(tmp_path / "deep.png", (64, 64, 1))
    assert x.min() == 0 and x.max() == 1
    wide = np.full((20, 40), 255, np.uint8)
    Image.fromarray(wide).save(tmp_path / "wide.png")
    padded = evaluate.load_image_for_model(tmp_path / "wide.png", (28, 28, 1), keep_aspect=True)
    assert padded[0, 0, 14, 0] == 0 and padded[0, 14, 14, 0] == 1  # black bands above and below


def test_bad_files_raise_errors_naming_the_file(tmp_path):
    shape = (28, 28, 1)
    with pytest.raises(FileNotFoundError, match=r"nothere\.png: no such image file"):
        evaluate.load_image_for_model(tmp_path / "nothere.png", shape)
    text = tmp_path / "notes.png"
    text.write_text("this is not a picture")
    with pytest.raises(evaluate.ImageLoadError, match=r"notes\.png: not an image file"):
        evaluate.load_image_for_model(text, shape)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(evaluate.ImageLoadError, match=r"empty\.jpg: not an image file"):
        evaluate.load_image_for_model(empty, shape)
    Image.fromarray(blob_images(1, size=64)[0]).save(tmp_path / "whole.png")
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(evaluate.ImageLoadError, match=r"cut\.png: corrupt or truncated"):
        evaluate.load_image_for_model(tmp_path / "cut.png", shape)
    assert (tmp_path / "cut.png").stat().st_size == len(data) // 2  # the file is left alone
    with pytest.raises(evaluate.ImageLoadError, match="not a file"):
        evaluate.load_image_for_model(tmp_path, shape)
    with pytest.raises(ValueError, match="C = 1 .* or 3"):
        evaluate.load_image_for_model(tmp_path / "whole.png", (28, 28, 2))


def test_flip_tta_averages_each_image_with_its_mirror():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 5, 1))  # a model that is not mirror-symmetric: a dense layer on the raw pixels
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs)))
    images = np.random.default_rng(0).integers(0, 255, size=(4, 6, 5), dtype=np.uint8)
    plain = evaluate.predict_proba(model, images)
    mirrored = evaluate.predict_proba(model, images[:, :, ::-1])
    assert not np.allclose(plain, mirrored)
    np.testing.assert_allclose(evaluate.predict_proba(model, images, flip_tta=True), (plain + mirrored) / 2,
                               rtol=1e-5, atol=1e-6)


def test_shift_images_moves_whole_images_with_reflected_borders():
    images = np.arange(2 * 4 * 5, dtype=np.uint8).reshape(2, 4, 5)
    down_right = evaluate.shift_images(images, 1)
    np.testing.assert_array_equal(down_right[:, 1:, 1:], images[:, :-1, :-1])
    np.testing.assert_array_equal(down_right[:, 0, 1:], images[:, 1, :-1])  # the border row reflects row 1
    up_left = evaluate.shift_images(images[..., None], -2)[..., 0]  # a channel axis rides along
    np.testing.assert_array_equal(up_left[:, :-2, :-2], images[:, 2:, 2:])
    assert evaluate.shift_images(images, 0) is images


def test_translate_tta_weighs_the_unshifted_images_half_and_each_shift_a_quarter():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 5, 1))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs)))
    images = np.random.default_rng(1).integers(0, 255, size=(4, 6, 5), dtype=np.uint8)
    views = [evaluate.predict_proba(model, evaluate.shift_images(images, p), flip_tta=True) for p in (0, -1, 1)]
    assert not np.allclose(views[0], views[1])
    np.testing.assert_allclose(evaluate.predict_proba(model, images, flip_tta=True, translate_tta=1),
                               views[0] / 2 + (views[1] + views[2]) / 4, rtol=1e-5, atol=1e-6)
    import tensorflow as tf

    with pytest.raises(ValueError, match="translate_tta needs an array"):
        evaluate.predict_proba(model, tf.data.Dataset.from_tensor_slices((images[..., None] / 255, [0] * 4)).batch(2),
                               translate_tta=1)
