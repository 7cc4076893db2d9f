"""The fast CIFAR-10 recipe's parts (issue 15): the whitening layer, the cheap translate-and-flip, the optimizer."""
import dataclasses

import keras
import numpy as np
import pytest

from course_utils import config, models, train


def _correlated_images(n=400, size=8, seed=0):
    """Smooth random images: neighbouring pixels and the three channels strongly correlated, like photographs."""
    rng = np.random.default_rng(seed)
    base = rng.random((n, size // 2, size // 2, 1))
    grey = np.repeat(np.repeat(base, 2, axis=1), 2, axis=2)
    return np.clip(grey * [0.9, 0.8, 0.7] + 0.05 * rng.random((n, size, size, 3)), 0, 1).astype("float32")


def test_whitening_filters_decorrelate_patches():
    images = _correlated_images()
    kernel, bias = models.whitening_kernel(images, kernel_size=2, eps=1e-6)
    assert kernel.shape == (2, 2, 3, 24) and bias.shape == (24,)
    out = keras.ops.convert_to_numpy(keras.ops.conv(images, kernel, padding="valid")) + bias
    half = out[..., :12].reshape(-1, 12)                      # the other 12 channels are the negatives
    assert np.allclose(out[..., 12:], -out[..., :12], atol=1e-4)
    assert np.allclose(half.mean(axis=0), 0, atol=0.05), "the bias removes the mean patch"
    assert np.allclose(np.cov(half, rowvar=False), np.eye(12), atol=0.1), "unit variance, uncorrelated"
    raw = images[:, :2, :2].reshape(len(images), 12)
    assert np.corrcoef(raw, rowvar=False)[0, 1] > 0.5, "the raw patches were correlated"


def test_fast_cnn_takes_its_whitening_from_the_data_and_keeps_it_frozen():
    model = models.fast_cnn(input_shape=(16, 16, 3), widths=(8, 8, 8))
    assert models.set_whitening(model, _correlated_images(size=16))
    whiten = model.get_layer("whiten")
    assert not whiten.trainable and whiten.kernel.shape == (2, 2, 3, 24)
    assert model.output.shape == (None, 10) and model.layers[-1].dtype_policy.name == "float32"
    assert not models.set_whitening(models.cifar_reference_cnn(), _correlated_images()), "no whitening layer"


def test_translate_flip_moves_and_mirrors_whole_images():
    images = np.arange(2 * 6 * 6, dtype="float32").reshape(2, 6, 6, 1)
    batch = np.repeat(images, 50, axis=0)
    out = keras.ops.convert_to_numpy(train.TranslateFlip(pixels=1, seed=3)(batch))
    assert out.shape == batch.shape
    # each output is the input shifted by at most one pixel (reflected border), maybe mirrored: its centre 4x4 is a
    # 4x4 window of the original or of the mirrored original
    seen_flip = seen_shift = False
    for src, dst in zip(batch, out):
        windows = {(dy, dx, f): (src[:, ::-1] if f else src)[1 + dy:5 + dy, 1 + dx:5 + dx]
                   for dy in (-1, 0, 1) for dx in (-1, 0, 1) for f in (False, True)}
        match = [k for k, w in windows.items() if np.array_equal(w, dst[1:5, 1:5])]
        assert match, "not a shifted or mirrored copy"
        seen_flip |= any(f for _, _, f in match)
        seen_shift |= any((dy, dx) != (0, 0) for dy, dx, _ in match)
    assert seen_flip and seen_shift
    assert np.array_equal(train.TranslateFlip(2)(batch, training=False), batch)


def test_recipes_choose_their_optimizer():
    recipe = dataclasses.replace(train.get_recipe("cifar10", "course"), optimizer="sgd", momentum=0.8, ema=0.9)
    opt = train.make_optimizer(recipe, 0.1)
    assert isinstance(opt, keras.optimizers.SGD) and opt.nesterov and opt.momentum == pytest.approx(0.8)
    assert opt.use_ema and opt.ema_momentum == pytest.approx(0.9)
    assert isinstance(train.make_optimizer(train.get_recipe("cifar10", "course"), 0.1), keras.optimizers.AdamW)
    with pytest.raises(ValueError, match="optimizer"):
        train.make_optimizer(dataclasses.replace(recipe, optimizer="lion"), 0.1)


@pytest.mark.parametrize("native_bfloat16", [True, False])
def test_the_fast_recipe_trains_in_its_own_precision_and_leaves_the_global_one(tmp_path, monkeypatch, native_bfloat16):
    """bfloat16 where the machine computes it natively; elsewhere (emulated: slower than float32) the global policy."""
    monkeypatch.setattr(config, "bfloat16_is_fast", lambda: native_bfloat16)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(64, 32, 32, 3), dtype=np.uint8)
    y = np.arange(64) % 10
    before = keras.mixed_precision.global_policy().name
    recipe = dataclasses.replace(train.get_recipe("cifar10", "course_fast"), batch_size=32,
                                 build_kwargs={"widths": (8, 8, 8)})
    result = train.fit_recipe(recipe, x, y, x[:16], y[:16], 10, epochs=1, work_dir=tmp_path, verbose=0)
    assert keras.mixed_precision.global_policy().name == before
    expected = recipe.precision if native_bfloat16 else before
    assert result.model.get_layer("block1_conv1").dtype_policy.name == expected
    assert result.model.output.dtype == "float32"
    assert isinstance(result.model.optimizer, keras.optimizers.SGD)
    whiten = result.model.get_layer("whiten").get_weights()[0]
    assert np.abs(whiten).max() > 1, "the whitening filters came from the images (a fresh conv is much smaller)"
