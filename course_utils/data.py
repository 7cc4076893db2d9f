"""Load the course's data sets by name, from a local copy first, then the official download.

Taught in notebook 02 ("Load the data"); every notebook loads its data through :func:`load_dataset`.

Resolution order for ``fashion_mnist``, ``mnist`` and ``cifar10``:

1. ``COURSE_DATA_DIR`` (for example ``../shared/datasets``), then the course's ``datasets/`` folder;
2. the official download (same URLs as the Keras loaders), bounded by a timeout, cached in ``datasets/``;
3. only when the caller passes ``fallback="digits"``: scikit-learn's embedded digits, announced by a
   banner that says why. Without a fallback, a data set that cannot be had raises
   :class:`DataUnavailableError` explaining how to provide it.

Every file is checked (published checksum, or, for the MNIST files whose gzip header differs, the
checksum of the decompressed content) and every problem raises :class:`DatasetError` naming the file.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import shutil
import sys
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import config
from .download import ChecksumError, DownloadError, download, verify_checksum

DATASETS = ("fashion_mnist", "mnist", "cifar10", "digits")
FALLBACK_DATASET = "digits"


class DatasetError(ValueError):
    """A data file exists but is unusable: the message names the file and the problem."""


class DataUnavailableError(RuntimeError):
    """No local copy, no download, and no fallback was allowed."""


@dataclass
class Dataset:
    """A data set with the published train/test split, as uint8 images and integer labels."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    source: str
    requested: str | None = None
    fallback_reason: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def is_fallback(self) -> bool:
        return self.fallback_reason is not None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def summary(self) -> str:
        return (f"{self.name}: {len(self.x_train)} train + {len(self.x_test)} test images of shape "
                f"{self.image_shape}, {self.num_classes} classes, from {self.short_source}")

    @property
    def short_source(self) -> str:
        """Where the data came from, without the machine's folders: the last two parts of a path."""
        first, _, rest = self.source.partition(" ")
        if not Path(first).is_absolute():
            return self.source
        parts = Path(first).parts
        return ("…/" + "/".join(parts[-2:]) + (" " + rest if rest else "")).strip()


# --- what each data set is made of -------------------------------------------------------------

_TF_BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_MNIST_BASE = "https://ossci-datasets.s3.amazonaws.com/mnist/"


@dataclass(frozen=True)
class IdxFile:
    name: str
    url: str
    gz_sha256: tuple[str, ...]   # accepted checksums of the .gz file
    content_sha256: str          # checksum of the decompressed IDX bytes


IDX_DATASETS = {
    "fashion_mnist": {
        "folder": "fashion-mnist",
        "class_names": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
        "files": {
            "train_images": IdxFile("train-images-idx3-ubyte.gz", _TF_BASE + "train-images-idx3-ubyte.gz",
                                    ("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",),
                                    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
            "train_labels": IdxFile("train-labels-idx1-ubyte.gz", _TF_BASE + "train-labels-idx1-ubyte.gz",
                                    ("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",),
                                    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
            "test_images": IdxFile("t10k-images-idx3-ubyte.gz", _TF_BASE + "t10k-images-idx3-ubyte.gz",
                                   ("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",),
                                   "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
            "test_labels": IdxFile("t10k-labels-idx1-ubyte.gz", _TF_BASE + "t10k-labels-idx1-ubyte.gz",
                                   ("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",),
                                   "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
        },
    },
    "mnist": {
        "folder": "mnist",
        "class_names": [str(d) for d in range(10)],
        "files": {
            "train_images": IdxFile("train-images-idx3-ubyte.gz", _MNIST_BASE + "train-images-idx3-ubyte.gz",
                                    ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",),
                                    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
            "train_labels": IdxFile("train-labels-idx1-ubyte.gz", _MNIST_BASE + "train-labels-idx1-ubyte.gz",
                                    ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",),
                                    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
            "test_images": IdxFile("t10k-images-idx3-ubyte.gz", _MNIST_BASE + "t10k-images-idx3-ubyte.gz",
                                   ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",),
                                   "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
            "test_labels": IdxFile("t10k-labels-idx1-ubyte.gz", _MNIST_BASE + "t10k-labels-idx1-ubyte.gz",
                                   ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",),
                                   "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
        },
    },
}

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]
CIFAR10_JPEG_NPZ = ("cifar10_jpeg.npz", "a8267652480ff871b49eedb87391ee330566d3ad7fde385f19c167744fac5158")
CIFAR10_TARBALL = ("cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                   "md5:c58f30108f718f92721af3b95e74349a")


# --- where to look ------------------------------------------------------------------------------

def course_datasets_dir() -> Path:
    """The course's own ``datasets/`` folder (git-ignored cache of downloads)."""
    root = config.repo_root()
    return (root if root else Path.cwd()) / "datasets"


def data_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for local copies, in order: the argument or ``COURSE_DATA_DIR``, then ``datasets/``."""
    dirs = []
    explicit = data_dir or os.environ.get("COURSE_DATA_DIR")
    if explicit:
        dirs.append(Path(explicit).expanduser())
    dirs.append(course_datasets_dir())
    return dirs


# --- file readers (each problem names the file) -------------------------------------------------

def _read_gz(path: Path) -> tuple[bytes, bytes]:
    """Return (raw gz bytes, decompressed bytes), raising DatasetError for a corrupt or truncated file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    try:
        return raw, gzip.decompress(raw)
    except (gzip.BadGzipFile, EOFError, zlib.error, OSError) as exc:
        raise DatasetError(f"{path}: corrupt or truncated gzip file ({exc})") from exc


def parse_idx(data: bytes, path: str | os.PathLike, expected_magic: int) -> np.ndarray:
    """Parse IDX bytes (the MNIST format) into a uint8 array, checking magic number and size."""
    if len(data) < 8:
        raise DatasetError(f"{path}: too short to be an IDX file ({len(data)} bytes)")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        kind = "images" if expected_magic == 2051 else "labels"
        raise DatasetError(f"{path}: wrong IDX magic number {magic}, expected {expected_magic} for {kind}")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    expected = int(np.prod(dims))
    if len(data) - header != expected:
        raise DatasetError(f"{path}: IDX header promises {dims} = {expected} values "
                           f"but the file holds {len(data) - header}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def read_idx_file(path: str | os.PathLike, expected_magic: int, spec: IdxFile | None = None) -> np.ndarray:
    """Read one ``.gz`` IDX file; with ``spec``, verify it by its published or content checksum."""
    path = Path(path)
    raw, data = _read_gz(path)
    if spec is not None and hashlib.sha256(raw).hexdigest() not in spec.gz_sha256:
        actual = hashlib.sha256(data).hexdigest()
        if actual != spec.content_sha256:
            raise ChecksumError(f"{path}: checksum mismatch: neither the file nor its decompressed content "
                                f"matches the published {spec.name} (content sha256 {actual}, expected "
                                f"{spec.content_sha256}). Delete it and download it again.")
    return parse_idx(data, path, expected_magic)


def _check_counts(images: np.ndarray, labels: np.ndarray, images_path: Path, labels_path: Path) -> None:
    if len(images) != len(labels):
        raise DatasetError(f"{images_path}: {len(images)} images but {labels_path.name} has "
                           f"{len(labels)} labels; the two files must have the same count")


def _load_idx_dataset(name: str, folder: Path, verify: bool = True) -> Dataset:
    spec = IDX_DATASETS[name]
    arrays = {}
    for key, idx in spec["files"].items():
        path = folder / idx.name
        if not path.exists():
            raise DatasetError(f"{path}: missing split file ({key.replace('_', ' ')}) for {name}; "
                               f"expected {[f.name for f in spec['files'].values()]} in {folder}")
        arrays[key] = read_idx_file(path, 2051 if key.endswith("images") else 2049, idx if verify else None)
    for split in ("train", "test"):
        _check_counts(arrays[f"{split}_images"], arrays[f"{split}_labels"],
                      folder / spec["files"][f"{split}_images"].name, folder / spec["files"][f"{split}_labels"].name)
    return Dataset(name, arrays["train_images"], arrays["train_labels"], arrays["test_images"],
                   arrays["test_labels"], list(spec["class_names"]), source=str(folder))


def _decode_jpegs(blob: np.ndarray, offsets: np.ndarray, path: Path, split: str) -> np.ndarray:
    from PIL import Image

    images = np.empty((len(offsets) - 1, 32, 32, 3), dtype=np.uint8)
    for i in range(len(offsets) - 1):
        try:
            with Image.open(io.BytesIO(blob[offsets[i]:offsets[i + 1]].tobytes())) as im:
                images[i] = np.asarray(im.convert("RGB"))
        except Exception as exc:
            raise DatasetError(f"{path}: {split} image {i} is not a decodable 32x32 JPEG ({exc})") from exc
    return images


def read_cifar10_jpeg_npz(path: str | os.PathLike, verify: bool = True) -> Dataset:
    """Read the course's CIFAR-10 copy: JPEG bytes packed in one npz (see the datasets MANIFEST)."""
    path = Path(path)
    if verify:
        verify_checksum(path, CIFAR10_JPEG_NPZ[1])
    try:
        npz = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise DatasetError(f"{path}: not a readable npz file ({exc})") from exc
    with npz:
        needed = {"train_jpeg", "train_offsets", "y_train", "test_jpeg", "test_offsets", "y_test"}
        missing = needed - set(npz.files)
        if missing:
            raise DatasetError(f"{path}: missing arrays {sorted(missing)}")
        splits = {}
        for split in ("train", "test"):
            x = _decode_jpegs(npz[f"{split}_jpeg"], npz[f"{split}_offsets"], path, split)
            y = npz[f"y_{split}"].astype(np.uint8)
            if len(x) != len(y):
                raise DatasetError(f"{path}: {len(x)} {split} images but {len(y)} {split} labels")
            splits[split] = (x, y)
    ds = Dataset("cifar10", *splits["train"], *splits["test"], list(CIFAR10_CLASSES), source=str(path))
    ds.notes.append("CIFAR-10 as JPEG re-encodings (quality ~75): accuracies run a little below "
                    "published ones on the original pixels.")
    return ds


def read_cifar10_tarball(path: str | os.PathLike) -> Dataset:
    """Read the official ``cifar-10-python.tar.gz`` (what the Keras loader downloads)."""
    path = Path(path)
    batches = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar.getmembers():
                base = os.path.basename(member.name)
                if base.startswith("data_batch_") or base == "test_batch":
                    batches[base] = pickle.load(tar.extractfile(member), encoding="bytes")  # noqa: S301 (checksummed)
    except (tarfile.TarError, EOFError, zlib.error, OSError, pickle.UnpicklingError) as exc:
        raise DatasetError(f"{path}: corrupt or truncated archive ({exc})") from exc
    expected = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    missing = [b for b in expected if b not in batches]
    if missing:
        raise DatasetError(f"{path}: missing split file(s) {missing}")

    def stack(names):
        x = np.concatenate([batches[n][b"data"] for n in names]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        y = np.concatenate([batches[n][b"labels"] for n in names]).astype(np.uint8)
        return x.astype(np.uint8), y

    return Dataset("cifar10", *stack(expected[:5]), *stack(expected[5:]), list(CIFAR10_CLASSES), source=str(path))


def _load_cifar10_local(folder: Path, verify: bool = True) -> Dataset | None:
    npz = folder / CIFAR10_JPEG_NPZ[0]
    if npz.exists():
        return read_cifar10_jpeg_npz(npz, verify)
    tarball = folder / CIFAR10_TARBALL[0]
    if tarball.exists():
        if verify:
            verify_checksum(tarball, CIFAR10_TARBALL[2])
        return read_cifar10_tarball(tarball)
    return None


def load_digits_dataset(size: int = 28, seed: int = 0) -> Dataset:
    """scikit-learn's embedded 8x8 digits, scaled to uint8 and resized to ``size`` pixels.

    1,797 images, split 80/20 stratified with a fixed seed (the data set has no published split).
    Resizing to 28x28 lets the same models as for MNIST run on it.
    """
    from PIL import Image
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images * (255.0 / 16.0)).round().astype(np.uint8)
    if size != 8:
        images = np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BILINEAR)) for im in images])
    labels = digits.target.astype(np.uint8)
    x_tr, x_te, y_tr, y_te = train_test_split(images, labels, test_size=0.2, stratify=labels, random_state=seed)
    return Dataset("digits", x_tr, y_tr, x_te, y_te, [str(d) for d in range(10)],
                   source="scikit-learn (embedded, no download)")


# --- the one entry point ------------------------------------------------------------------------

def _folder_for(name: str) -> str:
    return IDX_DATASETS[name]["folder"] if name in IDX_DATASETS else name


def _load_local(name: str, data_dir=None, verify: bool = True) -> tuple[Dataset | None, list[str]]:
    tried = []
    for base in data_dirs(data_dir):
        folder = base / _folder_for(name)
        tried.append(str(folder))
        if not folder.is_dir():
            continue
        if name in IDX_DATASETS:
            if any((folder / f.name).exists() for f in IDX_DATASETS[name]["files"].values()):
                return _load_idx_dataset(name, folder, verify), tried
        elif name == "cifar10":
            ds = _load_cifar10_local(folder, verify)
            if ds is not None:
                return ds, tried
    return None, tried


def local_copy_available(name: str, data_dir=None) -> bool:
    """True when a local copy of ``name`` exists (without reading or verifying it)."""
    for base in data_dirs(data_dir):
        folder = base / _folder_for(name)
        if name in IDX_DATASETS and all((folder / f.name).exists() for f in IDX_DATASETS[name]["files"].values()):
            return True
        if name == "cifar10" and ((folder / CIFAR10_JPEG_NPZ[0]).exists() or (folder / CIFAR10_TARBALL[0]).exists()):
            return True
    return name == "digits"


def _download(name: str, timeout: float | None, verify: bool = True) -> Dataset:
    """Download ``name`` into a staging folder and move it into ``datasets/`` only once every file is verified.

    An interrupted download (2 of 4 files, say) leaves the staging folder, never a partial data set that later
    calls would take for a local copy; the next call reuses the verified files already staged.
    """
    final = course_datasets_dir() / _folder_for(name)
    staging = final.parent / f".{final.name}.downloading"
    if name in IDX_DATASETS:
        for idx in IDX_DATASETS[name]["files"].values():
            download(idx.url, staging / idx.name, checksum=idx.gz_sha256[0], timeout=timeout)
        ds = _load_idx_dataset(name, staging, verify)
    elif name == "cifar10":
        fname, url, checksum = CIFAR10_TARBALL
        download(url, staging / fname, checksum=checksum, timeout=timeout)
        ds = _load_cifar10_local(staging, verify)
    else:
        raise DataUnavailableError(f"{name}: no download is defined")
    if final.exists():  # another process finished first; its copy was verified the same way
        shutil.rmtree(staging, ignore_errors=True)
    else:
        staging.rename(final)
    ds.source = str(final)
    return ds


def how_to_provide(name: str) -> str:
    folder = _folder_for(name)
    files = ([f.name for f in IDX_DATASETS[name]["files"].values()] if name in IDX_DATASETS
             else [CIFAR10_JPEG_NPZ[0] + " or " + CIFAR10_TARBALL[0]])
    return (f"To provide {name}: put {', '.join(files)} in a folder '{folder}/' inside a directory and set "
            f"COURSE_DATA_DIR to that directory (or use the course's datasets/ folder), or run once with "
            f"internet access so the official files are downloaded and cached.")


def banner(message: str, width: int = 78) -> str:
    line = "!" * width
    return f"{line}\n" + "\n".join(f"!! {m}" for m in message.splitlines()) + f"\n{line}"


def load_dataset(name: str, *, data_dir: str | os.PathLike | None = None, download_ok: bool = True,
                 fallback: str | None = None, timeout: float | None = None, verify: bool = True,
                 verbose: bool = True) -> Dataset:
    """Load a data set by name with its published train/test split; see the module docstring.

    ``fallback="digits"`` allows the embedded data set when ``name`` cannot be had; the switch is
    announced with a banner and recorded in ``Dataset.fallback_reason``. A corrupt local file always
    raises: it never triggers a fallback, because it is a problem you should fix.
    """
    name = name.lower().replace("-", "_")
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {DATASETS}")
    if name == "digits":
        ds = load_digits_dataset()
        _say(verbose, f"Using {ds.summary()}")
        return ds

    ds, tried = _load_local(name, data_dir, verify)
    if ds is not None:
        _say(verbose, f"Using local copy: {ds.summary()}")
        return ds

    reason = f"no local copy of {name} in {', '.join(tried)}"
    if download_ok:
        try:
            ds = _download(name, timeout, verify)
            ds.notes.append("downloaded from the official source and cached in datasets/")
            _say(verbose, f"Downloaded and cached: {ds.summary()}")
            return ds
        except (DownloadError, ChecksumError, DatasetError) as exc:
            reason += f"; download failed: {exc}"
    else:
        reason += "; downloads were not allowed"

    if fallback:
        ds = load_dataset(fallback, verbose=False)
        ds.requested = name
        ds.fallback_reason = reason
        ds.source += f" [fallback for {name}]"
        _say(verbose, banner(f"FALLBACK: using the embedded '{ds.name}' data set instead of '{name}'.\n"
                             f"Why: {reason}\n{how_to_provide(name)}"))
        return ds
    raise DataUnavailableError(f"{name} is not available: {reason}.\n{how_to_provide(name)}")


def _say(verbose: bool, message: str) -> None:
    if verbose:
        print(message, flush=True)


# --- splits and subsets -------------------------------------------------------------------------

def train_val_test_split(x, y, fractions=(0.70, 0.15, 0.15), seed: int = 42):
    """Stratified, seeded split into ``(x_train, y_train), (x_val, y_val), (x_test, y_test)``.

    Taught in notebook 02. Each class keeps its share in every part.
    """
    from sklearn.model_selection import train_test_split

    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) <= 0:
        raise ValueError(f"fractions must be three positive numbers summing to 1, got {fractions}")
    _, val_frac, test_frac = fractions
    n_test, n_val = round(test_frac * len(y)), round(val_frac * len(y))  # counts, free of float rounding
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=n_test, stratify=y, random_state=seed)
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=n_val, stratify=y_rest,
                                                      random_state=seed)
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)


def stratified_subset(x, y, n: int | None, seed: int = config.DEFAULT_SEED):
    """At most ``n`` examples, same class proportions (for smoke and lecture runs); all when n is None."""
    if n is None or n >= len(y):
        return x, y
    from sklearn.model_selection import train_test_split

    x_sub, _, y_sub, _ = train_test_split(x, y, train_size=n, stratify=y, random_state=seed)
    return x_sub, y_sub


def subset_dataset(ds: Dataset, train: int | None, test: int | None = None, seed: int = config.DEFAULT_SEED) -> Dataset:
    """A copy of ``ds`` with stratified subsets of its train and test splits."""
    x_tr, y_tr = stratified_subset(ds.x_train, ds.y_train, train, seed)
    x_te, y_te = stratified_subset(ds.x_test, ds.y_test, test, seed)
    return Dataset(ds.name, x_tr, y_tr, x_te, y_te, ds.class_names, ds.source, ds.requested,
                   ds.fallback_reason, list(ds.notes))


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils.data download [name ...]``: fetch and verify data sets into ``datasets/`` ahead of
    time (before going offline, or once per CI cache); a copy already there is verified, not fetched again."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m course_utils.data", description=main.__doc__.split(";")[0])
    parser.add_argument("command", choices=["download"])
    parser.add_argument("names", nargs="*", default=["fashion_mnist", "mnist", "cifar10"])
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per file (default 600)")
    args = parser.parse_args(argv)
    for name in args.names:
        try:
            ds = load_dataset(name, data_dir=course_datasets_dir(), timeout=args.timeout)
        except (DataUnavailableError, DatasetError) as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            return 1
        print(f"{name}: {len(ds.y_train)} training and {len(ds.y_test)} test images, verified, in {ds.source}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
