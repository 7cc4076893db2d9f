"""course_utils.transfer: the three backbone paths (local ImageNet file, download, course-pretrained), models, data."""
import shutil

import numpy as np
import pytest

from course_utils import transfer
from course_utils.download import DownloadError

V1_FILE = transfer.IMAGENET_BACKBONES["mobilenet_v1_0.25"].file_name


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


# --- the three paths ----------------------------------------------------------------------------

def test_local_imagenet_weights_are_found_and_load(no_weights, v1_weights, monkeypatch):
    monkeypatch.setenv("COURSE_WEIGHTS_DIR", str(v1_weights.parent))
    monkeypatch.setattr(transfer, "download", lambda *a, **k: pytest.fail("must not download"))
    bb = transfer.choose_backbone(("mobilenet_v1_0.25",), 32, verbose=False)
    assert bb.source == "imagenet-local" and bb.weights_path == v1_weights and bb.input_size == 32
    model, base, head = transfer.build_transfer_model(bb, (32, 32, 3), 3)
    assert not base.trainable and head.count_params() == 256 * 3 + 3
    assert model.predict(np.zeros((2, 32, 32, 3), "float32"), verbose=0).shape == (2, 3)


def test_local_file_also_found_in_data_dir_weights(no_weights, v1_weights):
    bb = transfer.choose_backbone(("mobilenet_v1_0.25",), 32, data_dir=v1_weights.parent.parent,
                                  allow_download=False, verbose=False)
    assert bb.source == "imagenet-local"


def test_download_path_tries_strongest_first_and_caches(no_weights, v1_weights, monkeypatch, capsys):
    urls = []

    def fake_download(url, dest, checksum=None, timeout=None):
        urls.append(url)
        if "mobilenet_v2" in url:
            raise DownloadError(f"{url}: download failed (no network in tests)")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(v1_weights, dest)
        return dest

    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setattr(transfer, "download", fake_download)
    bb = transfer.choose_backbone(("mobilenet_v2", "mobilenet_v1_0.25"), 32)
    assert bb.source == "imagenet-download" and bb.name == "mobilenet_v1_0.25"
    assert "mobilenet_v2" in urls[0] and urls[1].endswith(V1_FILE)
    assert bb.weights_path == no_weights / "keras-home" / "models" / V1_FILE
    out = capsys.readouterr().out
    assert "Path taken: imagenet-download" in out and "no network in tests" in out
    # next time the cached copy is a local file: no download
    monkeypatch.setattr(transfer, "download", lambda *a, **k: pytest.fail("must not download again"))
    assert transfer.choose_backbone(("mobilenet_v1_0.25",), 32, verbose=False).source == "imagenet-local"


def test_offline_without_weights_pretrains_the_course_backbone(offline, no_weights, digits, monkeypatch, capsys):
    monkeypatch.setattr(transfer, "download", lambda *a, **k: pytest.fail("must not download offline"))
    src = _classes(digits.x_train, digits.y_train, [0, 1, 2, 3, 4])
    cache = no_weights / "artifacts" / "course_backbone.keras"
    bb = transfer.choose_backbone(source_data=src, pretrain_epochs=1, pretrain_size=16, pretrain_path=cache)
    assert bb.source == "course-pretrained" and cache.exists()
    out = capsys.readouterr().out
    assert "Path taken: course-pretrained" in out and "download not allowed" in out
    # transfer to the other digits (grey 16x16 images are stacked to RGB inside the model)
    x, y = _classes(digits.x_train, digits.y_train, [5, 6, 7, 8, 9])
    xt, yt = _classes(digits.x_test, digits.y_test, [5, 6, 7, 8, 9])
    model, base, fe = transfer.feature_extraction(bb, (x, y), (xt, yt), (xt, yt), 5, epochs=3)
    assert 0.0 <= fe["test_accuracy"] <= 1.0 and model.input_shape == (None, 16, 16, 3)
    ft = transfer.fine_tune(model, base, (x, y), (xt, yt), (xt, yt), epochs=1, lr=1e-4, from_layer=bb.unfreeze_from)
    assert ft["trainable_tensors"] > 0
    # the cached backbone is reused: same weights, no training
    again = transfer.choose_backbone(source_data=src, pretrain_epochs=1, pretrain_size=16, pretrain_path=cache,
                                     verbose=False)
    for a, b in zip(again.model_fn().get_weights(), bb.model_fn().get_weights()):
        np.testing.assert_array_equal(a, b)


# --- bad inputs ---------------------------------------------------------------------------------

def test_no_weights_and_no_source_data_explains_what_to_do(no_weights):
    with pytest.raises(transfer.BackboneUnavailableError, match=V1_FILE) as info:
        transfer.choose_backbone(("mobilenet_v1_0.25",), allow_download=False, verbose=False)
    assert "COURSE_WEIGHTS_DIR" in str(info.value) and "source_data" in str(info.value)


def test_corrupt_weights_file_is_named(no_weights, monkeypatch):
    folder = no_weights / "weights"
    folder.mkdir()
    (folder / V1_FILE).write_text("not an HDF5 file")
    monkeypatch.setenv("COURSE_WEIGHTS_DIR", str(folder))
    with pytest.raises(transfer.WeightsError, match=V1_FILE) as info:
        transfer.choose_backbone(("mobilenet_v1_0.25",), 32, allow_download=False, verbose=False)
    assert "cannot load" in str(info.value)
    assert (folder / V1_FILE).exists(), "the user's file must not be deleted"


def test_corrupt_course_backbone_cache_is_named(tmp_path, digits):
    bad = tmp_path / "course_backbone.keras"
    bad.write_text("garbage")
    with pytest.raises(transfer.WeightsError, match="course_backbone.keras"):
        transfer.pretrain_course_backbone(digits.x_train, digits.y_train, 16, 1, path=bad)


def test_unknown_backbone_and_bad_sizes_are_refused(no_weights, tmp_path):
    with pytest.raises(ValueError, match="unknown backbone.*resnet9"):
        transfer.choose_backbone(("resnet9",))
    with pytest.raises(ValueError, match="input_size must be an integer >= 32"):
        transfer.imagenet_backbone("mobilenet_v1_0.25", tmp_path / "w.h5", input_size=8)


def test_source_data_must_match(tmp_path):
    with pytest.raises(ValueError, match="3 images and 2 labels"):
        transfer.pretrain_course_backbone(np.zeros((3, 8, 8), "uint8"), np.zeros(2), 16, 1)


# --- models and data ----------------------------------------------------------------------------

def test_unfreeze_top_keeps_lower_layers_and_batch_norm_frozen():
    import keras

    base = transfer.course_cnn_backbone(16)
    base.trainable = False
    transfer.unfreeze_top(base, from_layer="block3_conv1")
    trainable = {layer.name for layer in base.layers if layer.trainable and layer.weights}
    assert trainable == {"block3_conv1", "block3_conv2"}
    assert all(not layer.trainable for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization))
    with pytest.raises(ValueError, match="no layer named 'conv_dw_99'"):
        transfer.unfreeze_top(base, from_layer="conv_dw_99")


def test_preprocess_layers_match_keras_preprocess_input():
    import keras

    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    for name in ("mobilenet_v1_0.25", "mobilenet_v2", "efficientnet_b0"):
        spec = transfer.IMAGENET_BACKBONES[name]
        module = getattr(keras.applications, spec.preprocess_module)
        np.testing.assert_allclose(np.asarray(spec.preprocess_layer()(x)), module.preprocess_input(x.copy()),
                                   rtol=1e-5, atol=1e-5)


def test_saved_model_round_trip(tmp_path, digits):
    import keras

    bb = transfer.Backbone("course_cnn", lambda: transfer.course_cnn_backbone(16), transfer._course_preprocess, 16,
                           "course-pretrained", None, transfer._course_preprocess_layer, "block3_conv1")
    model, _, _ = transfer.build_transfer_model(bb, (8, 8, 1), 10)
    path = tmp_path / "model.keras"
    model.save(path)
    x = transfer.as_float(digits.x_test[:4, ::2, ::2])
    np.testing.assert_allclose(keras.models.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_per_class_subset():
    y = np.repeat(np.arange(3), [10, 5, 2])
    x = np.arange(len(y))
    xs, ys = transfer.per_class_subset(x, y, 4, seed=1)
    assert np.bincount(ys).tolist() == [4, 4, 2] and np.all(y[xs] == ys)


def test_load_image_folders(tmp_path, digits):
    from course_utils.folder_split import split_folder_dataset
    from course_utils.image_folders import write_class_folders

    x, y = _classes(digits.x_train, digits.y_train, [0, 1, 2])
    write_class_folders(x[:60], y[:60], ["zero", "one", "two"], tmp_path / "raw")
    split_folder_dataset(tmp_path / "raw", tmp_path / "split")
    splits, names = transfer.load_image_folders(tmp_path / "split", 16, batch_size=8)
    assert names == ["one", "two", "zero"]
    images, labels = transfer.to_numpy(splits["test"])
    assert images.shape[1:] == (16, 16, 3) and images.max() <= 255 and len(labels) == 9
    with pytest.raises(FileNotFoundError, match="missing 'train' folder"):
        transfer.load_image_folders(tmp_path / "raw", 16)


def test_weight_change_counts_only_unfrozen_kernels():
    before = transfer.course_cnn_backbone(16)
    after = transfer.course_cnn_backbone(16)
    after.set_weights(before.get_weights())
    transfer.unfreeze_top(after, from_layer="block3_conv2")
    assert transfer.weight_change(before, after) == 0.0
    layer = after.get_layer("block3_conv2")
    layer.kernel.assign(layer.kernel * 2.0)
    assert transfer.weight_change(before, after) == pytest.approx(1.0, rel=1e-5)
    after.get_layer("block1_conv1").kernel.assign(after.get_layer("block1_conv1").kernel * 5.0)  # frozen: ignored
    assert transfer.weight_change(before, after) == pytest.approx(1.0, rel=1e-5)
