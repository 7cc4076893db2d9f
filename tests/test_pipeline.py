"""course_utils.pipeline: the tf.data pipeline notebook 03 teaches, as the package keeps it for later notebooks."""
import numpy as np
import pytest

from course_utils import pipeline


def _images(n=10, h=6, w=5, channels=None, seed=0):
    shape = (n, h, w) if channels is None else (n, h, w, channels)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _labels_in_order(dataset):
    return np.concatenate([labels.numpy() for _, labels in dataset])


def test_add_channel_axis_adds_one_to_grey_batches_only():
    grey, rgb = _images(), _images(channels=3)
    assert pipeline.add_channel_axis(grey).shape == (10, 6, 5, 1)
    assert np.array_equal(pipeline.add_channel_axis(grey)[..., 0], grey)
    assert pipeline.add_channel_axis(rgb) is rgb
    assert pipeline.add_channel_axis(pipeline.add_channel_axis(grey)).shape == (10, 6, 5, 1)


def test_evaluation_dataset_scales_keeps_order_and_the_last_partial_batch():
    x, y = _images(), np.arange(10)
    ds = pipeline.make_dataset(x, y, batch_size=4)
    batches = list(ds)
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    images = np.concatenate([b[0].numpy() for b in batches])
    assert images.dtype == np.float32 and images.shape == (10, 6, 5, 1)
    np.testing.assert_allclose(images[..., 0], x / 255.0, rtol=1e-6)
    assert _labels_in_order(ds).tolist() == list(range(10)), "no shuffling outside training"
    assert _labels_in_order(ds).tolist() == list(range(10)), "a second pass (from the cache) is the same"


def test_training_dataset_shuffles_reproducibly_and_anew_every_epoch():
    x, y = _images(64), np.arange(64)
    first = pipeline.make_dataset(x, y, batch_size=16, training=True, seed=3)
    again = pipeline.make_dataset(x, y, batch_size=16, training=True, seed=3)
    epoch1, epoch2 = _labels_in_order(first), _labels_in_order(first)
    assert sorted(epoch1) == list(range(64)), "every image once per epoch"
    assert not np.array_equal(epoch1, np.arange(64))
    assert not np.array_equal(epoch1, epoch2), "a new order every epoch"
    assert np.array_equal(epoch1, _labels_in_order(again)), "the same seed, the same order"
    other = pipeline.make_dataset(x, y, batch_size=16, training=True, seed=4)
    assert not np.array_equal(epoch1, _labels_in_order(other))


def test_resize_and_one_hot():
    x, y = _images(channels=3), np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], dtype=np.uint8)
    images, labels = next(iter(pipeline.make_dataset(x, y, batch_size=10, image_size=8, one_hot=3)))
    assert images.shape == (10, 8, 8, 3)
    assert float(images.numpy().min()) >= 0.0 and float(images.numpy().max()) <= 1.0
    assert labels.shape == (10, 3)
    assert np.array_equal(labels.numpy().argmax(axis=1), y) and np.allclose(labels.numpy().sum(axis=1), 1)


@pytest.mark.parametrize("cache", [True, False])
def test_augmentation_applies_in_training_only(cache):
    calls = []

    def augment(images, training=False):
        calls.append(training)
        return 1.0 - images  # a visible, deterministic change

    x, y = _images(8), np.zeros(8)
    plain = np.concatenate([b[0].numpy() for b in pipeline.make_dataset(x, y, 8, augment=augment, cache=cache)])
    assert not calls, "evaluation datasets are never augmented"
    np.testing.assert_allclose(plain[..., 0], x / 255.0, rtol=1e-6)
    trained = next(iter(pipeline.make_dataset(x, y, 8, training=True, augment=augment, cache=cache)))[0].numpy()
    assert calls and all(calls), "augmentation runs with training=True"
    np.testing.assert_allclose(np.sort(trained.ravel()), np.sort(1.0 - plain.ravel()), rtol=1e-6)


@pytest.mark.parametrize("kind,layers", [("flip", 1), ("light", 2), ("strong", 4)])
def test_augmentation_kinds_and_identity_at_prediction(kind, layers):
    model = pipeline.augmentation(kind, seed=1)
    assert model.name == f"augment_{kind}" and len(model.layers) == layers
    images = (_images(4, 12, 12, 1) / 255.0).astype("float32")
    assert np.array_equal(model(images, training=False).numpy(), images)
    assert model(images, training=True).shape == images.shape
