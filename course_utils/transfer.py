"""Transfer learning with MobileNet (alpha 0.25): where its weights come from, and the recipe of notebook 07.

Notebook 07 teaches the recipe in its own cells: :func:`pretrained_base`, :func:`build_transfer_model`,
:func:`compile_and_fit`, :func:`unfreeze_top` and :func:`compare_by_size` here are the same code as the
notebook's (``tests/test_lesson_sources.py`` keeps them so), for ``make bench`` (``course_tools.bench.transfer``).

What stays here is plumbing: which weights file to pass as ``keras.applications.MobileNet(weights=...)``
(:func:`choose_weights`), in order:

1. ``imagenet-local``: the official ImageNet weights file already on disk, in ``COURSE_WEIGHTS_DIR``,
   ``$COURSE_DATA_DIR/weights``, the course's ``datasets/weights`` or the Keras cache ``~/.keras/models``;
2. ``imagenet-download``: the same file, downloaded with :func:`course_utils.download.download` (bounded by a
   timeout; skipped when ``COURSE_OFFLINE=1``) into the Keras cache, where ``weights="imagenet"`` finds it too;
3. ``course-pretrained``: no ImageNet weights at all, so the course trains the same MobileNet from scratch on a
   *source* task (other classes of the same data set) and saves its weights (:func:`pretrain_weights`); the
   notebook then loads that file exactly as it would load the ImageNet one.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from . import config, data, models
from .download import ChecksumError, DownloadError, download, downloads_allowed

SOURCES = ("imagenet-local", "imagenet-download", "course-pretrained")
ALPHA = 0.25
#: The official Keras file: MobileNet v1, alpha 0.25, trained at 224 px, without its classification top.
WEIGHTS_FILE = "mobilenet_2_5_224_tf_no_top.h5"
WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/" + WEIGHTS_FILE
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


def check_weights(path) -> str:
    """``path`` as a string once MobileNet (alpha 0.25) loads it; else :class:`WeightsError` naming the file."""
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

    ``x_source``: uint8 images (N, H, W) or (N, H, W, C), grey ones are stacked to RGB; they are resized to
    ``image_size`` inside the model and preprocessed as for the ImageNet weights. ``path`` must end in
    ``.weights.h5``; ``MobileNet(weights=path)`` loads it like the ImageNet file. Batch norm's moving statistics
    are recomputed at the end from ``calibration_images`` source images (see the comment there).
    """
    path = Path(path)
    if not path.name.endswith(".weights.h5"):
        raise ValueError(f"{path}: the file name must end in .weights.h5 (what Keras' save_weights writes)")
    x = np.asarray(x_source, dtype="float32")
    y = np.asarray(y_source).astype("int64")
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(f"source data: {len(x)} images and {len(y)} labels; need the same number, > 0")
    if x.ndim == 3:
        x = x[..., None]
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    keras.utils.set_random_seed(seed)
    base = keras.applications.MobileNet(alpha=ALPHA, include_top=False, weights=None,
                                        input_shape=(image_size, image_size, 3))
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = models.BN_MOMENTUM  # averages that settle in a short run (see models.BN_MOMENTUM)
    inputs = keras.Input(shape=x.shape[1:])
    h = keras.layers.Resizing(image_size, image_size)(inputs)
    h = keras.applications.mobilenet.preprocess_input(h)
    h = keras.layers.GlobalAveragePooling2D()(base(h))
    outputs = keras.layers.Dense(int(y.max()) + 1, activation="softmax")(h)
    model = keras.Model(inputs, outputs, name="course_pretraining")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=verbose, shuffle=True)
    # In a short run the weights change fast and batch norm's moving averages lag behind them: frozen, the
    # backbone would then give every image nearly the same features. Recompute them from one large batch.
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
    sample = np.random.default_rng(seed).permutation(len(x))[:calibration_images]
    base(keras.applications.mobilenet.preprocess_input(tf.image.resize(x[sample], (image_size, image_size))),
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
    (:func:`pretrain_weights`, saved at ``pretrain_path`` and reused from there next time). A file that exists
    but does not load raises :class:`WeightsError`; no way at all raises :class:`BackboneUnavailableError`.
    """
    allow_download = downloads_allowed() if allow_download is None else allow_download
    tried = []
    local = find_local_weights(weights_dir, data_dir)
    if local is not None:
        return _announce(BackboneWeights(check_weights(local), "imagenet-local"), tried, verbose)
    tried.append(f"no {WEIGHTS_FILE} in {', '.join(str(d) for d in weights_dirs(weights_dir, data_dir))}")
    if allow_download:
        try:
            path = download(WEIGHTS_URL, keras_cache_dir() / WEIGHTS_FILE, timeout=timeout)
        except (DownloadError, ChecksumError) as exc:
            tried.append(f"download: {exc}")
        else:
            return _announce(BackboneWeights(check_weights(path), "imagenet-download"), tried, verbose)
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
        why = {"imagenet-local": "ImageNet weights found on disk",
               "imagenet-download": "ImageNet weights downloaded from the official Keras URL",
               "course-pretrained": "NO ImageNet weights available: MobileNet trained by the course on a "
                                    "different source task"}[weights.source]
        print(f"Path taken: {weights.source} ({why})")
        for line in tried:
            print(f"  tried: {line}")
        print(weights.summary())
    return weights


# --- the recipe: the same code as notebook 07's cells ---------------------------------------------------

def pretrained_base(weights, image_size):
    """MobileNet (alpha 0.25) without its ImageNet classifier, every weight frozen (taught in notebook 07)."""
    base = keras.applications.MobileNet(alpha=0.25, include_top=False, weights=weights,
                                        input_shape=(image_size, image_size, 3))
    base.trainable = False  # freeze every weight of the backbone
    return base


def build_transfer_model(base, num_classes, input_shape, dropout=0.2):
    """``image → resize → preprocess_input → base (inference mode) → new head`` (taught in notebook 07)."""
    inputs = keras.Input(shape=input_shape)  # RGB pixels in [0, 255], at the folder's image size
    x = keras.layers.Resizing(base.input_shape[1], base.input_shape[2])(inputs)  # the backbone's input size
    x = keras.applications.mobilenet.preprocess_input(x)  # [0, 255] -> [-1, 1], as in ImageNet training
    x = base(x, training=False)  # batch norm keeps its ImageNet statistics, even once unfrozen
    x = keras.layers.GlobalAveragePooling2D()(x)  # one number per feature map
    x = keras.layers.Dropout(dropout)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def compile_and_fit(model, train_ds, val_ds, epochs, lr=1e-3, initial_epoch=0, verbose=2):
    """(Re)compile with Adam at ``lr``, then train up to epoch ``epochs`` (taught in notebook 07)."""
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=initial_epoch, verbose=verbose,
                     shuffle=False)  # the datasets shuffle themselves


def unfreeze_top(base, n_layers):
    """Make the last ``n_layers`` layers of ``base`` trainable, batch norm excepted (taught in notebook 07)."""
    base.trainable = True
    for layer in base.layers[:-n_layers]:
        layer.trainable = False
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False


def compare_by_size(weights, train, test_ds, num_classes, sizes, image_size, head_epochs, ft_epochs, n_layers,
                    head_lr=3e-3, ft_lr=1e-4, seed=42):
    """Test accuracy from scratch, by feature extraction and by fine-tuning, with ``n`` images per class.

    ``train`` is ``(x, y)`` arrays of RGB pixels in [0, 255]. From scratch (notebook 04's reference CNN) trains
    ``head_epochs + ft_epochs`` epochs, as many as the transfer model gets in all; the seconds of fine-tuning
    include those of the feature extraction before it (taught in notebook 07).
    """
    rows = []
    for n in sizes:
        x, y = data.stratified_subset(*train, n * num_classes, seed=seed)
        subset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=seed).batch(32)
        keras.utils.set_random_seed(seed)
        start = time.perf_counter()
        scratch = keras.Sequential([keras.Input(shape=x.shape[1:]), keras.layers.Rescaling(1 / 255),
                                    models.fashion_reference_cnn(x.shape[1:], num_classes)])
        compile_and_fit(scratch, subset, None, head_epochs + ft_epochs, verbose=0)  # its usual 1e-3
        measured = [("from scratch", scratch.evaluate(test_ds, verbose=0, return_dict=True)["accuracy"],
                     time.perf_counter() - start)]
        start = time.perf_counter()
        base = pretrained_base(weights, image_size)
        model = build_transfer_model(base, num_classes, x.shape[1:])
        compile_and_fit(model, subset, None, head_epochs, lr=head_lr, verbose=0)
        measured.append(("feature extraction", model.evaluate(test_ds, verbose=0, return_dict=True)["accuracy"],
                         time.perf_counter() - start))
        unfreeze_top(base, n_layers)
        compile_and_fit(model, subset, None, head_epochs + ft_epochs, lr=ft_lr, initial_epoch=head_epochs, verbose=0)
        measured.append(("fine-tuning", model.evaluate(test_ds, verbose=0, return_dict=True)["accuracy"],
                         time.perf_counter() - start))
        print(f"{n} images per class: " + ", ".join(f"{method} {acc:.3f}" for method, acc, _ in measured))
        rows += [{"per_class": n, "train_images": len(y), "method": method, "test_accuracy": acc,
                  "seconds": round(seconds, 1)} for method, acc, seconds in measured]
    return rows


# --- measuring --------------------------------------------------------------------------------------

def weight_change(pretrained, tuned) -> float:
    """How far training moved a backbone: ``||tuned - pretrained|| / ||pretrained||``.

    Both are backbone models of the same architecture; only the trainable weights of the layers trainable in
    ``tuned`` count (frozen layers and batch-norm statistics do not move).
    """
    num = den = 0.0
    for layer in tuned.layers:
        if not layer.trainable or not layer.trainable_weights:
            continue
        for before, after in zip(pretrained.get_layer(layer.name).weights, layer.weights):  # frozen or not
            if not after.trainable:
                continue
            b, a = np.asarray(before), np.asarray(after)
            num += float(np.sum((a - b) ** 2))
            den += float(np.sum(b ** 2))
    return float(np.sqrt(num / den)) if den else 0.0
