"""course_utils.backbones: where MobileNet's weights come from (local file, download, course-pretrained), and the
checksum that every ImageNet weights file must pass, like the data sets."""
import shutil

import numpy as np
import pytest

from course_utils import backbones, transfer
from course_utils.download import ChecksumError, DownloadError

V1_FILE = backbones.WEIGHTS_FILE


@pytest.fixture
def no_weights(monkeypatch, tmp_path):
    """No weights anywhere: empty Keras cache, no COURSE_WEIGHTS_DIR, no data dir, empty course datasets/."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.delenv("COURSE_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setattr("course_utils.data.course_datasets_dir", lambda: tmp_path / "empty-datasets")
    return tmp_path



@pytest.fixture
def served_from(monkeypatch):
    """Point the official URL at a local file (file://): the real download function runs, nothing leaves the machine."""
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)

    def serve(path):
        monkeypatch.setattr(backbones, "WEIGHTS_URL", path.resolve().as_uri())

    return serve


@pytest.fixture(scope="module")
def digits():
    from course_utils.data import load_digits_dataset

    return load_digits_dataset(size=16)


def _classes(x, y, classes):
    keep = np.isin(y, classes)
    return x[keep], np.searchsorted(classes, y[keep])


# --- the checksum ---------------------------------------------------------------------------------

def test_the_real_weights_file_passes_its_checksum(v1_weights):
    assert backbones.verify_imagenet_weights(v1_weights) == str(v1_weights)


def test_corrupt_local_weights_file_is_refused_with_both_digests(no_weights, monkeypatch):
    folder = no_weights / "weights"
    folder.mkdir()
    (folder / V1_FILE).write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(1000))  # looks like HDF5, is not the file
    monkeypatch.setenv("COURSE_WEIGHTS_DIR", str(folder))
    with pytest.raises(ChecksumError) as info:
        backbones.choose_weights(allow_download=False, source_data=([0], [0]), verbose=False)
    message = str(info.value)
    assert str(folder / V1_FILE) in message and backbones.WEIGHTS_SHA256 in message
    from course_utils.download import file_digest

    assert file_digest(folder / V1_FILE) in message, "the actual digest is named too"
    assert (folder / V1_FILE).exists(), "the user's file must not be deleted"


def test_a_truncated_copy_of_the_real_file_is_refused(no_weights, v1_weights):
    copy = no_weights / "cut" / V1_FILE
    copy.parent.mkdir()
    copy.write_bytes(v1_weights.read_bytes()[:-1])
    with pytest.raises(ChecksumError, match="checksum mismatch"):
        backbones.choose_weights(weights_dir=copy.parent, verbose=False)


def test_a_download_with_the_wrong_checksum_is_discarded(no_weights, served_from):
    wrong = no_weights / "server" / V1_FILE
    wrong.parent.mkdir()
    wrong.write_bytes(b"not the weights")
    served_from(wrong)
    with pytest.raises(backbones.BackboneUnavailableError, match="checksum mismatch"):
        backbones.choose_weights(verbose=False)
    assert not (no_weights / "keras-home" / "models" / V1_FILE).exists(), "nothing half-right is cached"


# --- where the weights come from ------------------------------------------------------------------

def test_local_imagenet_weights_are_found_and_load(no_weights, v1_weights, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_WEIGHTS_DIR", str(v1_weights.parent))
    monkeypatch.setattr(backbones, "download", lambda *a, **k: pytest.fail("must not download"))
    weights = backbones.choose_weights()
    assert weights.source == "imagenet-local" and weights.path == str(v1_weights) and weights.tried == []
    assert "Path taken: imagenet-local" in capsys.readouterr().out
    base = transfer.pretrained_base(weights.path, 32)
    model = transfer.build_transfer_model(base, 3, (32, 32, 3))
    assert not base.trainable and not base.trainable_weights
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 256 * 3 + 3  # the head only
    assert model.predict(np.zeros((2, 32, 32, 3), "float32"), verbose=0).shape == (2, 3)


def test_local_file_also_found_in_data_dir_weights(no_weights, v1_weights):
    weights = backbones.choose_weights(data_dir=v1_weights.parent.parent, allow_download=False, verbose=False)
    assert weights.source == "imagenet-local"


def test_download_path_is_verified_and_cached(no_weights, v1_weights, served_from, monkeypatch, capsys):
    served_from(v1_weights)
    weights = backbones.choose_weights()
    cached = no_weights / "keras-home" / "models" / V1_FILE
    assert weights.source == "imagenet-download" and weights.path == str(cached)
    assert cached.read_bytes() == v1_weights.read_bytes()
    assert "Path taken: imagenet-download" in capsys.readouterr().out
    # next time the cached copy is a local file: no download
    monkeypatch.setattr(backbones, "download", lambda *a, **k: pytest.fail("must not download again"))
    assert backbones.choose_weights(verbose=False).source == "imagenet-local"


def test_failed_download_without_source_data_explains_what_to_do(no_weights, monkeypatch):
    def failing(url, dest, checksum=None, timeout=None):
        raise DownloadError(f"{url}: download failed (no network in tests)")

    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setattr(backbones, "download", failing)
    with pytest.raises(backbones.BackboneUnavailableError, match="no network in tests") as info:
        backbones.choose_weights(verbose=False)
    assert V1_FILE in str(info.value) and "COURSE_WEIGHTS_DIR" in str(info.value)
    assert "source_data" in str(info.value)


def test_no_weights_and_no_source_data_explains_what_to_do(no_weights):
    with pytest.raises(backbones.BackboneUnavailableError, match=V1_FILE) as info:
        backbones.choose_weights(allow_download=False, verbose=False)
    assert "COURSE_WEIGHTS_DIR" in str(info.value) and "source_data" in str(info.value)
    assert "download not allowed" in str(info.value)


# --- no ImageNet weights: the course trains its own -----------------------------------------------

def test_offline_without_weights_trains_the_course_weights(offline, no_weights, digits, monkeypatch, capsys):
    monkeypatch.setattr(backbones, "download", lambda *a, **k: pytest.fail("must not download offline"))
    x, y = _classes(digits.x_train, digits.y_train, [0, 1, 2, 3, 4])
    src = x[:64], y[:64]  # one batch of 64: one quick step, traced once
    cache = no_weights / "artifacts" / "course_mobilenet.weights.h5"
    untrained = transfer.pretrained_base(None, 32)
    weights = backbones.choose_weights(source_data=src, image_size=32, pretrain_epochs=1, pretrain_path=cache)
    assert weights.source == "course-pretrained" and weights.path == str(cache) and cache.exists()
    out = capsys.readouterr().out
    assert "Path taken: course-pretrained" in out and "download not allowed" in out
    # the notebook loads the file like the ImageNet one, into the same architecture, at any size
    trained = transfer.pretrained_base(weights.path, 32)
    conv = trained.get_layer("conv_pw_13").kernel
    assert not np.allclose(conv, untrained.get_layer("conv_pw_13").kernel), "the saved weights are trained ones"
    moving_var = np.asarray(trained.get_layer("conv_pw_13_bn").moving_variance)
    assert not np.allclose(moving_var, 1.0), "batch norm statistics recomputed from the source images"
    # the saved weights are reused: no training the second time
    monkeypatch.setattr(backbones, "pretrain_weights", lambda *a, **k: pytest.fail("must reuse the saved weights"))
    again = backbones.choose_weights(source_data=src, image_size=32, pretrain_path=cache)
    assert again.source == "course-pretrained" and "reusing" in capsys.readouterr().out
    for a, b in zip(transfer.pretrained_base(again.path, 48).get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_corrupt_course_weights_cache_is_named(offline, no_weights, digits):
    bad = no_weights / "course_mobilenet.weights.h5"
    bad.write_text("garbage")
    with pytest.raises(backbones.WeightsError, match="course_mobilenet.weights.h5") as info:
        backbones.choose_weights(source_data=(digits.x_train, digits.y_train), pretrain_path=bad, verbose=False)
    assert "cannot load" in str(info.value)


def test_pretrain_weights_refuses_bad_input(tmp_path):
    with pytest.raises(ValueError, match="3 images and 2 labels"):
        backbones.pretrain_weights(np.zeros((3, 8, 8), "uint8"), np.zeros(2), tmp_path / "w.weights.h5", 32, 1)
    with pytest.raises(ValueError, match=r"must end in \.weights\.h5"):
        backbones.pretrain_weights(np.zeros((3, 8, 8), "uint8"), np.zeros(3), tmp_path / "w.h5", 32, 1)
