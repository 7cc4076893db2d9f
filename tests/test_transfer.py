"""course_utils.transfer: where MobileNet's weights come from (local file, download, course-pretrained), and the
recipe notebook 07 teaches (the same code as its cells: tests/test_lesson_sources.py checks that)."""
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils import transfer
from course_utils.download import DownloadError

V1_FILE = transfer.WEIGHTS_FILE


@pytest.fixture
def no_weights(monkeypatch, tmp_path):
    """No weights anywhere: empty Keras cache, no COURSE_WEIGHTS_DIR, no data dir, empty course datasets/."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.delenv("COURSE_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setattr("course_utils.data.course_datasets_dir", lambda: tmp_path / "empty-datasets")
    return tmp_path


@pytest.fixture
def v1_weights(shared_data):
    path = shared_data / "weights" / V1_FILE
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="module")
def digits():
    from course_utils.data import load_digits_dataset

    return load_digits_dataset(size=16)


def _classes(x, y, classes):
    keep = np.isin(y, classes)
    return x[keep], np.searchsorted(classes, y[keep])


def _random_base(size=32, n_layers=None):
    """MobileNet (alpha 0.25) with random weights, frozen as pretrained_base leaves it."""
    base = transfer.pretrained_base(None, size)
    if n_layers:
        transfer.unfreeze_top(base, n_layers)
    return base


def _images(n, size=16, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype("float32")


# --- where the weights come from ------------------------------------------------------------------

def test_local_imagenet_weights_are_found_and_load(no_weights, v1_weights, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_WEIGHTS_DIR", str(v1_weights.parent))
    monkeypatch.setattr(transfer, "download", lambda *a, **k: pytest.fail("must not download"))
    weights = transfer.choose_weights()
    assert weights.source == "imagenet-local" and weights.path == str(v1_weights) and weights.tried == []
    assert "Path taken: imagenet-local" in capsys.readouterr().out
    base = transfer.pretrained_base(weights.path, 32)
    model = transfer.build_transfer_model(base, 3, (32, 32, 3))
    assert not base.trainable and not base.trainable_weights
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 256 * 3 + 3  # the head only
    assert model.predict(np.zeros((2, 32, 32, 3), "float32"), verbose=0).shape == (2, 3)


def test_local_file_also_found_in_data_dir_weights(no_weights, v1_weights):
    weights = transfer.choose_weights(data_dir=v1_weights.parent.parent, allow_download=False, verbose=False)
    assert weights.source == "imagenet-local"


def test_download_path_is_tried_and_cached(no_weights, v1_weights, monkeypatch, capsys):
    urls = []

    def fake_download(url, dest, checksum=None, timeout=None):
        urls.append(url)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(v1_weights, dest)
        return dest

    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setattr(transfer, "download", fake_download)
    weights = transfer.choose_weights()
    assert weights.source == "imagenet-download" and urls == [transfer.WEIGHTS_URL]
    assert weights.path == str(no_weights / "keras-home" / "models" / V1_FILE)
    assert "Path taken: imagenet-download" in capsys.readouterr().out
    # next time the cached copy is a local file: no download
    monkeypatch.setattr(transfer, "download", lambda *a, **k: pytest.fail("must not download again"))
    assert transfer.choose_weights(verbose=False).source == "imagenet-local"


def test_failed_download_without_source_data_explains_what_to_do(no_weights, monkeypatch):
    def failing(url, dest, checksum=None, timeout=None):
        raise DownloadError(f"{url}: download failed (no network in tests)")

    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setattr(transfer, "download", failing)
    with pytest.raises(transfer.BackboneUnavailableError, match="no network in tests") as info:
        transfer.choose_weights(verbose=False)
    assert V1_FILE in str(info.value) and "COURSE_WEIGHTS_DIR" in str(info.value)
    assert "source_data" in str(info.value)


def test_offline_without_weights_trains_the_course_weights(offline, no_weights, digits, monkeypatch, capsys):
    monkeypatch.setattr(transfer, "download", lambda *a, **k: pytest.fail("must not download offline"))
    src = _classes(digits.x_train, digits.y_train, [0, 1, 2, 3, 4])
    cache = no_weights / "artifacts" / "course_mobilenet.weights.h5"
    weights = transfer.choose_weights(source_data=src, image_size=32, pretrain_epochs=1, pretrain_path=cache)
    assert weights.source == "course-pretrained" and weights.path == str(cache) and cache.exists()
    out = capsys.readouterr().out
    assert "Path taken: course-pretrained" in out and "download not allowed" in out
    # the notebook loads the file like the ImageNet one, into the same architecture, at any size
    trained = transfer.pretrained_base(weights.path, 32)
    assert not all(np.allclose(w, 0) for w in trained.get_weights())
    # the saved weights are reused: no training the second time
    monkeypatch.setattr(transfer, "pretrain_weights", lambda *a, **k: pytest.fail("must reuse the saved weights"))
    again = transfer.choose_weights(source_data=src, image_size=32, pretrain_path=cache)
    assert again.source == "course-pretrained" and "reusing" in capsys.readouterr().out
    for a, b in zip(transfer.pretrained_base(again.path, 48).get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(a, b)


# --- bad inputs ---------------------------------------------------------------------------------

def test_no_weights_and_no_source_data_explains_what_to_do(no_weights):
    with pytest.raises(transfer.BackboneUnavailableError, match=V1_FILE) as info:
        transfer.choose_weights(allow_download=False, verbose=False)
    assert "COURSE_WEIGHTS_DIR" in str(info.value) and "source_data" in str(info.value)
    assert "download not allowed" in str(info.value)


def test_corrupt_weights_file_is_named(no_weights, monkeypatch):
    folder = no_weights / "weights"
    folder.mkdir()
    (folder / V1_FILE).write_text("not an HDF5 file")
    monkeypatch.setenv("COURSE_WEIGHTS_DIR", str(folder))
    with pytest.raises(transfer.WeightsError, match=V1_FILE) as info:
        transfer.choose_weights(allow_download=False, verbose=False)
    assert "cannot load" in str(info.value)
    assert (folder / V1_FILE).exists(), "the user's file must not be deleted"


def test_corrupt_course_weights_cache_is_named(offline, no_weights, digits):
    bad = no_weights / "course_mobilenet.weights.h5"
    bad.write_text("garbage")
    with pytest.raises(transfer.WeightsError, match="course_mobilenet.weights.h5"):
        transfer.choose_weights(source_data=(digits.x_train, digits.y_train), pretrain_path=bad, verbose=False)


def test_pretrain_weights_refuses_bad_input(tmp_path):
    with pytest.raises(ValueError, match="3 images and 2 labels"):
        transfer.pretrain_weights(np.zeros((3, 8, 8), "uint8"), np.zeros(2), tmp_path / "w.weights.h5", 32, 1)
    with pytest.raises(ValueError, match=r"must end in \.weights\.h5"):
        transfer.pretrain_weights(np.zeros((3, 8, 8), "uint8"), np.zeros(3), tmp_path / "w.h5", 32, 1)


# --- the recipe -----------------------------------------------------------------------------------

def test_model_resizes_and_preprocesses_inside():
    """Plain [0, 255] pixels in: the model does resize → preprocess_input → backbone itself."""
    base = _random_base(32)
    model = transfer.build_transfer_model(base, 4, (16, 16, 3))
    gap = next(layer for layer in model.layers if isinstance(layer, keras.layers.GlobalAveragePooling2D))
    features = keras.Model(model.inputs, gap.output)
    x = _images(3)
    by_hand = base(keras.applications.mobilenet.preprocess_input(tf.image.resize(x, (32, 32))), training=False)
    np.testing.assert_allclose(features.predict(x, verbose=0), np.mean(np.asarray(by_hand), axis=(1, 2)),
                               rtol=1e-4, atol=1e-5)


def test_unfreeze_top_keeps_lower_layers_and_batch_norm_frozen():
    base = _random_base(32, n_layers=25)
    trainable = [layer.name for layer in base.layers if layer.trainable and layer.weights]
    assert trainable == [f"conv_{kind}_{block}" for block in (10, 11, 12, 13) for kind in ("dw", "pw")]
    assert all(not layer.trainable for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization))


def test_fine_tuning_moves_only_the_unfrozen_layers_and_keeps_batch_norm_statistics(v1_weights):
    keras.utils.set_random_seed(0)
    base = transfer.pretrained_base(str(v1_weights), 32)
    model = transfer.build_transfer_model(base, 3, (16, 16, 3))
    before = {w.path: np.asarray(w).copy() for w in base.weights}
    transfer.unfreeze_top(base, 25)
    ds = tf.data.Dataset.from_tensor_slices((_images(16), np.arange(16) % 3)).batch(8)
    transfer.compile_and_fit(model, ds, None, 1, lr=1e-2, verbose=0)
    moved = {w.path.split("/")[-2] for w in base.weights if not np.array_equal(np.asarray(w), before[w.path])}
    top = {f"conv_{kind}_{block}" for block in (10, 11, 12, 13) for kind in ("dw", "pw")}
    assert moved == top, "only the unfrozen convolutions move; batch norm (scale, shift, statistics) does not"


def test_compile_and_fit_continues_the_epoch_count():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((4, 2), "float32"), np.array([0, 1, 0, 1]))).batch(2)
    assert transfer.compile_and_fit(model, ds, ds, 2, verbose=0).epoch == [0, 1]
    history = transfer.compile_and_fit(model, ds, ds, 5, lr=1e-4, initial_epoch=2, verbose=0)
    assert history.epoch == [2, 3, 4] and len(history.history["val_accuracy"]) == 3
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-4), "recompiled with the new learning rate"


def test_compare_by_size_rows(digits):
    x, y = _classes(digits.x_train, digits.y_train, [0, 1, 2])
    x = np.repeat(x[..., None], 3, axis=-1).astype("float32")
    test_ds = tf.data.Dataset.from_tensor_slices((x[:30], y[:30])).batch(16)
    rows = transfer.compare_by_size(None, (x, y), test_ds, 3, [2, 4], 32, 1, 1, 25)
    assert [(r["per_class"], r["method"]) for r in rows] == [
        (n, m) for n in (2, 4) for m in ("from scratch", "feature extraction", "fine-tuning")]
    assert [r["train_images"] for r in rows] == [6] * 3 + [12] * 3
    assert all(0.0 <= r["test_accuracy"] <= 1.0 and r["seconds"] >= 0 for r in rows)


def test_saved_model_round_trip(tmp_path):
    model = transfer.build_transfer_model(_random_base(32), 5, (16, 16, 3))
    path = tmp_path / "model.keras"
    model.save(path)
    x = _images(4)
    np.testing.assert_allclose(keras.models.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_weight_change_counts_only_unfrozen_weights():
    before = _random_base(32)  # frozen, as a reference copy is in the notebook
    after = transfer.pretrained_base(None, 32)
    after.set_weights(before.get_weights())
    transfer.unfreeze_top(after, 3)  # conv_pw_13 and its batch norm (frozen) and ReLU
    assert transfer.weight_change(before, after) == 0.0
    layer = after.get_layer("conv_pw_13")
    layer.kernel.assign(layer.kernel * 2.0)
    assert transfer.weight_change(before, after) == pytest.approx(1.0, rel=1e-5)
    frozen = after.get_layer("conv1")
    frozen.kernel.assign(frozen.kernel * 5.0)  # frozen: not counted
    assert transfer.weight_change(before, after) == pytest.approx(1.0, rel=1e-5)


# --- make bench PART=transfer ----------------------------------------------------------------------

def test_bench_transfer_runs_on_a_small_subset(shared_data, v1_weights, tmp_path, monkeypatch):
    from course_tools.bench import transfer as bench_transfer
    from course_utils import data

    small = data.subset_dataset(data.load_dataset("cifar10", data_dir=shared_data, download_ok=False, verbose=False),
                                train=300, test=100)
    monkeypatch.setattr(bench_transfer.data, "load_dataset", lambda *a, **k: small)
    rows = bench_transfer.run(tmp_path, full_head_epochs=1, full_ft_epochs=1, small_head_epochs=1, small_ft_epochs=1,
                              pretrain_epochs=1, size=32, per_class=3, weights_dir=v1_weights.parent)
    assert [r["experiment"] for r in rows] == ["full CIFAR-10"] * 2 + ["3 per class, 10 classes"] * 3 + [
        "3 per class, CIFAR classes 5-9"] * 6
    assert [r["source"] for r in rows[-6:]] == ["course-pretrained"] * 3 + ["imagenet-local"] * 3
    assert all(0.0 <= r["test_accuracy"] <= 1.0 for r in rows)
    assert (tmp_path / "transfer.json").exists()
