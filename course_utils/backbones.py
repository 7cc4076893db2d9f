"""Pretrained backbones and their weights: which MobileNet (alpha 0.25) weights file notebook 07 can have here.

:func:`choose_weights` returns the file to pass as ``keras.applications.MobileNet(weights=...)``, trying in order:

1. ``imagenet-local``: the official ImageNet weights file already on disk, in ``COURSE_WEIGHTS_DIR``,
   ``$COURSE_DATA_DIR/weights``, the course's ``datasets/weights`` or the Keras cache ``~/.keras/models``;
2. ``imagenet-download``: the same file, downloaded with :func:`course_utils.download.download` (bounded by a
   timeout; skipped when ``COURSE_OFFLINE=1``) into the Keras cache, where ``weights="imagenet"`` finds it too;
3. ``course-pretrained``: no ImageNet weights at all, so the course trains the same MobileNet from scratch on a
   *source* task (other classes of the same data set) and saves its weights (:func:`pretrain_weights`); the
   notebook then loads that file exactly as it would load the ImageNet one.

The ImageNet file is verified by its SHA-256 like the data sets (:data:`WEIGHTS_SHA256`): a file that does not
match raises :class:`~course_utils.download.ChecksumError` naming it, the expected and the actual digest; it never
triggers a silent fallback. The recipe that uses the weights is :mod:`course_utils.transfer`.
"""
from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from . import config, data, models, pipeline, transfer
from .download import ChecksumError, DownloadError, download, downloads_allowed, verify_checksum

SOURCES = ("imagenet-local", "imagenet-download", "course-pretrained")
ALPHA = 0.25
#: The official Keras file: MobileNet v1, alpha 0.25, trained at 224 px, without its classification top.
WEIGHTS_FILE = "mobilenet_2_5_224_tf_no_top.h5"
WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/" + WEIGHTS_FILE
#: Keras publishes no checksum for it: this is the digest of the copy in the course's shared data set folder
#: (its MANIFEST.md: 2,108,140 bytes, the architecture's 218,544 parameters).
WEIGHTS_SHA256 = "dbdb03ee2a22fd895301636cd328b234bb3a9952358f436d82f46b81e0d5b0bf"
DESCRIPTION = "MobileNet v1 (alpha 0.25): 0.2 M parameters, 50.6% ImageNet top-1"


class WeightsError(ValueError):
    """A weights file exists but cannot be used: the message names the file and the problem."""


class BackboneUnavailableError(RuntimeError):
    """No ImageNet weights could be had and no source data was given to pretrain the course's own weights."""


@dataclass
class BackboneWeights:
    """What :func:`choose_weights` found: ``path`` is what to pass as ``MobileNet(weights=...)``."""
    path: str
    source: str
    tried: list[str] = field(default_factory=list)

    def summary(self) -> str:
        what = DESCRIPTION if self.source != "course-pretrained" else "MobileNet (alpha 0.25), weights the course trained"
        return f"Weights: {Path(self.path).name} [{self.source}]: {what}"


# --- where the ImageNet file may be -----------------------------------------------------------------

def keras_cache_dir() -> Path:
    """Where ``keras.applications`` caches downloaded weights: ``$KERAS_HOME/models`` (``~/.keras/models``)."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser() / "models"


def weights_dirs(weights_dir: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for the ImageNet weights file, in order."""
    dirs = []
    if weights_dir:
        dirs.append(Path(weights_dir).expanduser())
    env = os.environ.get("COURSE_WEIGHTS_DIR")
    if env:
        dirs.append(Path(env).expanduser())
    data_root = data_dir or os.environ.get("COURSE_DATA_DIR")
    if data_root:
        dirs.append(Path(data_root).expanduser() / "weights")
    dirs.append(data.course_datasets_dir() / "weights")
    dirs.append(keras_cache_dir())
    return list(dict.fromkeys(dirs))


def find_local_weights(weights_dir=None, data_dir=None) -> Path | None:
    """The first copy of :data:`WEIGHTS_FILE` in :func:`weights_dirs`, or None."""
    return next((d / WEIGHTS_FILE for d in weights_dirs(weights_dir, data_dir) if (d / WEIGHTS_FILE).is_file()), None)


def verify_imagenet_weights(path) -> str:
    """``path`` as a string once its SHA-256 is :data:`WEIGHTS_SHA256`; else ChecksumError naming both digests."""
    verify_checksum(path, WEIGHTS_SHA256)
    return str(path)


def check_weights(path) -> str:
    """``path`` as a string once MobileNet (alpha 0.25) loads it; else :class:`WeightsError` naming the file.

    For the course's own weights, which have no published checksum.
    """
    try:
        keras.applications.MobileNet(alpha=ALPHA, include_top=False, weights=str(path), input_shape=(32, 32, 3))
    except Exception as exc:
        raise WeightsError(f"{path}: cannot load it as MobileNet (alpha {ALPHA}) weights "
                           f"({type(exc).__name__}: {exc}). Delete it to download or train it again, or fix "
                           f"COURSE_WEIGHTS_DIR.") from exc
    return str(path)


# --- no ImageNet weights at all: the course trains its own ------------------------------------------

def pretrain_weights(x_source, y_source, path, image_size: int = 128, epochs: int = 5, batch_size: int = 64,
                     seed: int = config.DEFAULT_SEED, verbose: int = 2, calibration_images: int = 512) -> Path:
    """Train MobileNet (alpha 0.25) from scratch on a source task and save its weights (no top) to ``path``.

    ``x_source``: uint8 images (N, H, W) or (N, H, W, C), grey ones are stacked to RGB; they go through
    :func:`course_utils.pipeline.make_dataset`, are resized to ``image_size`` inside the model and preprocessed as
    for the ImageNet weights, and train with notebook 07's :func:`course_utils.transfer.compile_and_fit`.
    ``path`` must end in ``.weights.h5``; ``MobileNet(weights=path)`` loads it like the ImageNet file. Batch
    norm's moving statistics are recomputed at the end from ``calibration_images`` source images.
    """
    path = Path(path)
    if not path.name.endswith(".weights.h5"):
        raise ValueError(f"{path}: the file name must end in .weights.h5 (what Keras' save_weights writes)")
    x = pipeline.add_channel_axis(np.asarray(x_source))
    y = np.asarray(y_source).astype("int64")
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(f"source data: {len(x)} images and {len(y)} labels; need the same number, > 0")
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)  # MobileNet takes RGB
    keras.utils.set_random_seed(seed)
    base = keras.applications.MobileNet(alpha=ALPHA, include_top=False, weights=None,
                                        input_shape=(image_size, image_size, 3))
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = models.BN_MOMENTUM  # averages that settle in a short run (see models.BN_MOMENTUM)
    inputs = keras.Input(shape=x.shape[1:])  # pixels in [0, 1], as make_dataset gives them
    h = keras.layers.Rescaling(255.0)(inputs)  # preprocess_input expects [0, 255]
    h = keras.layers.Resizing(image_size, image_size)(h)
    h = keras.applications.mobilenet.preprocess_input(h)
    h = keras.layers.GlobalAveragePooling2D()(base(h))
    outputs = keras.layers.Dense(int(y.max()) + 1, activation="softmax", dtype="float32")(h)
    model = keras.Model(inputs, outputs, name="course_pretraining")
    train_ds = pipeline.make_dataset(x, y, batch_size, training=True, seed=seed, cache=False)
    transfer.compile_and_fit(model, train_ds, None, epochs, lr=1e-3, verbose=verbose)
    # In a short run the weights change fast and batch norm's moving averages lag behind them: frozen, the
    # backbone would then give every image nearly the same features. Recompute them from one large batch.
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
    sample = x[np.random.default_rng(seed).permutation(len(x))[:calibration_images]].astype("float32")
    base(keras.applications.mobilenet.preprocess_input(tf.image.resize(sample, (image_size, image_size))),
         training=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    base.save_weights(path)
    return path


# --- choosing ---------------------------------------------------------------------------------------

def choose_weights(*, weights_dir=None, data_dir=None, allow_download: bool | None = None,
                   timeout: float | None = None, source_data=None, image_size: int = 128, pretrain_epochs: int = 5,
                   pretrain_path=None, seed: int = config.DEFAULT_SEED, verbose: bool = True) -> BackboneWeights:
    """The weights file this machine can have for MobileNet (alpha 0.25); print which path was taken and why.

    A local ImageNet file, else the official download (when ``allow_download``, default: unless
    ``COURSE_OFFLINE=1``), else, with ``source_data=(x, y)``, weights the course trains on that source task
    (:func:`pretrain_weights`, saved at ``pretrain_path`` and reused from there next time). A local ImageNet file
    with the wrong checksum raises :class:`~course_utils.download.ChecksumError`; course weights that do not load
    raise :class:`WeightsError`; no way at all raises :class:`BackboneUnavailableError`.
    """
    allow_download = downloads_allowed() if allow_download is None else allow_download
    tried = []
    local = find_local_weights(weights_dir, data_dir)
    if local is not None:
        return _announce(BackboneWeights(verify_imagenet_weights(local), "imagenet-local"), tried, verbose)
    tried.append(f"no {WEIGHTS_FILE} in {', '.join(str(d) for d in weights_dirs(weights_dir, data_dir))}")
    if allow_download:
        try:
            path = download(WEIGHTS_URL, keras_cache_dir() / WEIGHTS_FILE, checksum=WEIGHTS_SHA256, timeout=timeout)
        except (DownloadError, ChecksumError) as exc:  # a bad download is discarded, never kept
            tried.append(f"download: {exc}")
        else:
            return _announce(BackboneWeights(verify_imagenet_weights(path), "imagenet-download"), tried, verbose)
    else:
        tried.append("download not allowed (COURSE_OFFLINE=1 or allow_download=False)")
    if source_data is None:
        raise BackboneUnavailableError(
            "No ImageNet weights could be had:\n  " + "\n  ".join(tried) +
            f"\nPut the official Keras file {WEIGHTS_FILE} in COURSE_WEIGHTS_DIR, allow the download, or pass "
            "source_data=(x, y) to train the course's own weights.")
    if pretrain_path is None:
        pretrain_path = Path(tempfile.mkdtemp(prefix="course-weights-")) / "course_mobilenet.weights.h5"
    pretrain_path = Path(pretrain_path)
    if pretrain_path.exists():
        tried.append(f"reusing the course's weights saved earlier as {pretrain_path.name}")
    else:
        pretrain_weights(*source_data, pretrain_path, image_size, pretrain_epochs, seed=seed, verbose=2 if verbose else 0)
    return _announce(BackboneWeights(check_weights(pretrain_path), "course-pretrained"), tried, verbose)


def _announce(weights: BackboneWeights, tried: list[str], verbose: bool) -> BackboneWeights:
    weights.tried = tried
    if verbose:
        why = {"imagenet-local": "ImageNet weights found on disk, checksum verified",
               "imagenet-download": "ImageNet weights downloaded from the official Keras URL, checksum verified",
               "course-pretrained": "NO ImageNet weights available: MobileNet trained by the course on a "
                                    "different source task"}[weights.source]
        print(f"Path taken: {weights.source} ({why})")
        for line in tried:
            print(f"  tried: {line}")
        print(weights.summary())
    return weights


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils.backbones download``: fetch and verify the ImageNet weights into ``datasets/weights``
    ahead of time (before going offline, or once per CI cache); a verified copy already there is kept."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m course_utils.backbones", description=main.__doc__.split(";")[0])
    parser.add_argument("command", choices=["download"])
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    args = parser.parse_args(argv)
    target = data.course_datasets_dir() / "weights" / WEIGHTS_FILE
    try:
        path = download(WEIGHTS_URL, target, checksum=WEIGHTS_SHA256, timeout=args.timeout)
    except (DownloadError, ChecksumError) as exc:
        print(f"{WEIGHTS_FILE}: not downloaded: {exc}", file=sys.stderr)
        return 1
    print(f"{WEIGHTS_FILE}: verified (SHA-256 {WEIGHTS_SHA256[:12]}...) in {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
