"""The data layer: loading, checksums, bad input, fallback, splits."""
import gzip
import shutil

import numpy as np
import pytest

from course_utils import data
from course_utils.data import DataUnavailableError, DatasetError, load_dataset
from course_utils.download import ChecksumError


def _idx_bytes(array, magic):
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_idx_set(folder, n_train=6, n_test=4, labels_train=None):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    parts = {
        "train-images-idx3-ubyte.gz": _idx_bytes(rng.integers(0, 255, (n_train, 28, 28)), 2051),
        "train-labels-idx1-ubyte.gz": _idx_bytes(np.arange(labels_train or n_train) % 10, 2049),
        "t10k-images-idx3-ubyte.gz": _idx_bytes(rng.integers(0, 255, (n_test, 28, 28)), 2051),
        "t10k-labels-idx1-ubyte.gz": _idx_bytes(np.arange(n_test) % 10, 2049),
    }
    for name, payload in parts.items():
        (folder / name).write_bytes(gzip.compress(payload))
    return folder


@pytest.fixture
def fake_mnist(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr(data, "course_datasets_dir", lambda: tmp_path / "unused")
    return _write_idx_set(tmp_path / "mnist")


def test_parse_idx_reads_shape_and_values():
    arr = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    out = data.parse_idx(_idx_bytes(arr, 2051), "x.idx", 2051)
    assert out.shape == (2, 3, 4) and out.dtype == np.uint8 and (out == arr).all()


def test_wrong_magic_number_names_file(fake_mnist):
    path = fake_mnist / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(_idx_bytes(np.zeros(6), 2051)))
    with pytest.raises(DatasetError, match=r"train-labels-idx1-ubyte.gz: wrong IDX magic number 2051, expected 2049"):
        load_dataset("mnist", data_dir=fake_mnist.parent, verify=False)


def test_truncated_gzip_names_file(fake_mnist):
    path = fake_mnist / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte.gz: corrupt or truncated gzip"):
        load_dataset("mnist", data_dir=fake_mnist.parent, verify=False)


def test_not_gzip_at_all_names_file(fake_mnist):
    (fake_mnist / "t10k-labels-idx1-ubyte.gz").write_text("<html>404 not found</html>")
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte.gz: corrupt or truncated gzip"):
        load_dataset("mnist", data_dir=fake_mnist.parent, verify=False)


def test_header_promising_more_data_than_present(fake_mnist):
    arr = np.zeros((6, 28, 28))
    payload = _idx_bytes(arr, 2051)[:-100]
    (fake_mnist / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(payload))
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte.gz: IDX header promises"):
        load_dataset("mnist", data_dir=fake_mnist.parent, verify=False)


def test_image_and_label_counts_must_agree(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "course_datasets_dir", lambda: tmp_path / "unused")
    folder = _write_idx_set(tmp_path / "mnist", n_train=6, labels_train=5)
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte.gz: 6 images but train-labels-idx1-ubyte.gz has 5"):
        load_dataset("mnist", data_dir=folder.parent, verify=False)


def test_missing_split_file_names_it(fake_mnist):
    (fake_mnist / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte.gz: missing split file \(test labels\)"):
        load_dataset("mnist", data_dir=fake_mnist.parent, verify=False)


def test_checksum_mismatch_names_file(fake_mnist):
    with pytest.raises(ChecksumError, match=r"train-images-idx3-ubyte.gz: checksum mismatch"):
        load_dataset("mnist", data_dir=fake_mnist.parent)


def test_corrupt_file_never_falls_back(fake_mnist):
    (fake_mnist / "t10k-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    with pytest.raises(DatasetError):
        load_dataset("mnist", data_dir=fake_mnist.parent, verify=False, fallback="digits")


def test_unavailable_without_fallback_says_how_to_provide(offline):
    with pytest.raises(DataUnavailableError, match=r"COURSE_DATA_DIR") as info:
        load_dataset("fashion_mnist")
    assert "train-images-idx3-ubyte.gz" in str(info.value)


def test_fallback_is_loud_and_recorded(offline, capsys):
    ds = load_dataset("cifar10", fallback="digits")
    out = capsys.readouterr().out
    assert "FALLBACK" in out and "digits" in out and "cifar10" in out
    assert ds.name == "digits" and ds.is_fallback and ds.requested == "cifar10"
    assert ds.x_train.dtype == np.uint8 and ds.x_train.shape[1:] == (28, 28)
    assert "downloads are disabled" in ds.fallback_reason


def test_download_is_attempted_and_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "course_datasets_dir", lambda: tmp_path / "cache")
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    calls = []

    def fake_urlopen(url, timeout):
        calls.append((url, timeout))
        raise OSError("network unreachable")

    monkeypatch.setattr("urllib.request.urlopen", fake_urlopen)
    ds = load_dataset("mnist", data_dir=tmp_path / "nothing", fallback="digits", timeout=5)
    assert ds.is_fallback and "download failed" in ds.fallback_reason
    assert calls and calls[0][1] <= 5
    assert not list((tmp_path / "cache").rglob("*.part")), "no half-downloaded file is left behind"


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="unknown data set"):
        load_dataset("imagenet")


def test_real_fashion_mnist(shared_data):
    ds = load_dataset("fashion_mnist", data_dir=shared_data)
    assert ds.x_train.shape == (60000, 28, 28) and ds.x_test.shape == (10000, 28, 28)
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert ds.class_names[9] == "Ankle boot"
    assert abs(ds.x_train.mean() / 255 - 0.2860) < 1e-3


def test_real_mnist_verified_by_content(shared_data):
    # two gz files differ from the official checksums only in their gzip header
    ds = load_dataset("mnist", data_dir=shared_data)
    assert np.bincount(ds.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_real_cifar10(shared_data):
    ds = load_dataset("cifar10", data_dir=shared_data)
    assert ds.x_train.shape == (50000, 32, 32, 3) and ds.x_test.shape == (10000, 32, 32, 3)
    assert ds.class_names[0] == "airplane" and np.bincount(ds.y_test).tolist() == [1000] * 10


def test_corrupt_cifar_jpeg_names_file_and_index(shared_data, tmp_path):
    src = np.load(shared_data / "cifar10" / "cifar10_jpeg.npz")
    arrays = {k: src[k] for k in src.files}
    start, end = arrays["test_offsets"][3], arrays["test_offsets"][4]
    arrays["test_jpeg"] = arrays["test_jpeg"].copy()
    arrays["test_jpeg"][start:end] = 0
    bad = tmp_path / "cifar10_jpeg.npz"
    np.savez(bad, **arrays)
    with pytest.raises(DatasetError, match=r"cifar10_jpeg.npz: test image 3 is not a decodable"):
        data.read_cifar10_jpeg_npz(bad, verify=False)
    with pytest.raises(ChecksumError, match="cifar10_jpeg.npz: checksum mismatch"):
        data.read_cifar10_jpeg_npz(bad)


def test_split_is_stratified_seeded_and_disjoint():
    y = np.repeat(np.arange(4), 100)
    x = np.arange(len(y))
    (xa, ya), (xb, yb), (xc, yc) = data.train_val_test_split(x, y, seed=1)
    assert (len(xa), len(xb), len(xc)) == (280, 60, 60)
    for part in (ya, yb, yc):
        assert len(set(np.bincount(part))) == 1, "every class keeps its share"
    assert len(set(xa) | set(xb) | set(xc)) == 400
    again = data.train_val_test_split(x, y, seed=1)
    assert (again[0][0] == xa).all()


def test_split_rejects_bad_fractions():
    with pytest.raises(ValueError, match="fractions"):
        data.train_val_test_split(np.arange(10), np.arange(10) % 2, fractions=(0.5, 0.5, 0.5))


def test_stratified_subset_keeps_proportions():
    y = np.repeat(np.arange(5), 50)
    xs, ys = data.stratified_subset(np.arange(250), y, 50)
    assert np.bincount(ys).tolist() == [10] * 5


def test_interrupted_download_leaves_no_partial_data_set(tmp_path, monkeypatch):
    """2 of 4 files arrive, then the network drops: later calls must not see a 'missing split file' copy."""
    monkeypatch.setattr(data, "course_datasets_dir", lambda: tmp_path / "cache")
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    source = _write_idx_set(tmp_path / "server")
    served, network_up = [], {"up": False}

    def fake_download(url, dest, checksum=None, timeout=None):
        name = url.rsplit("/", 1)[-1]
        if len(served) >= 2 and not network_up["up"]:
            raise data.DownloadError(f"{url}: connection reset")
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source / name, dest)
            served.append(name)
        return dest

    monkeypatch.setattr(data, "download", fake_download)
    first = load_dataset("mnist", data_dir=tmp_path / "nothing", fallback="digits", verify=False)
    assert first.is_fallback and "connection reset" in first.fallback_reason
    assert not (tmp_path / "cache" / "mnist").exists(), "no partial copy where local copies are looked for"
    network_up["up"] = True
    second = load_dataset("mnist", data_dir=tmp_path / "nothing", fallback="digits", verify=False)
    assert not second.is_fallback and second.x_train.shape == (6, 28, 28)
    assert len(served) == 4, "the two files that had arrived were reused, not fetched again"
    assert (tmp_path / "cache" / "mnist").is_dir() and not (tmp_path / "cache" / ".mnist.downloading").exists()
