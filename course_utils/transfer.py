"""Transfer learning: pick a pretrained backbone (online or offline), feature extraction, fine-tuning.

Taught in notebook 07. Where the backbone comes from, in order (:func:`choose_backbone`):

1. ``imagenet-local``: an ImageNet weights file already on disk, in ``COURSE_WEIGHTS_DIR`` (default
   ``$COURSE_DATA_DIR/weights``), the course's ``datasets/weights`` or the Keras cache ``~/.keras/models``;
2. ``imagenet-download``: the official Keras file, downloaded with :func:`course_utils.download.download`
   (bounded by a timeout; skipped when ``COURSE_OFFLINE=1``) into the Keras cache;
3. ``course-pretrained``: no ImageNet weights at all, so the course pretrains a small CNN on a *source*
   task (other classes of the same data set) and transfers it to the target task.

The candidates are tried strongest first, each local-then-download, so an online machine gets MobileNetV2
while an offline one with the small MobileNet v1 (alpha 0.25) file uses that.

Models take RGB images as float pixels in ``[0, 255]`` (what ``image_dataset_from_directory`` yields; grey
images are stacked to RGB with :func:`as_float`) at any size:
a ``Resizing`` layer brings them to the backbone's input size, then the backbone's own preprocessing runs.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import config
from .download import ChecksumError, DownloadError, download, downloads_allowed

SOURCES = ("imagenet-local", "imagenet-download", "course-pretrained")


class WeightsError(ValueError):
    """A weights file exists but cannot be used: the message names the file and the problem."""


class BackboneUnavailableError(RuntimeError):
    """No ImageNet weights could be had and no source data was given to pretrain the course's own backbone."""


# --- what each ImageNet backbone is -------------------------------------------------------------

def _mobilenet_preprocess_layer():
    import keras

    return keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="preprocess")  # [0, 255] -> [-1, 1]


def _identity_preprocess_layer():
    import keras

    return keras.layers.Identity(name="preprocess")  # EfficientNet rescales inside the model


@dataclass(frozen=True)
class ImageNetSpec:
    name: str
    constructor: str           # attribute of keras.applications
    kwargs: dict
    file_name: str             # the official Keras file name (no top)
    url: str
    preprocess_module: str     # keras.applications.<module>.preprocess_input
    preprocess_layer: Callable
    input_size: int            # the size this course uses by default (any >= min_size works)
    min_size: int
    unfreeze_from: str         # first layer of the "top blocks" fine-tuning unfreezes
    description: str


_KERAS_APPS = "https://storage.googleapis.com/tensorflow/keras-applications/"
IMAGENET_BACKBONES = {
    "mobilenet_v2": ImageNetSpec(
        "mobilenet_v2", "MobileNetV2", {"alpha": 1.0},
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        _KERAS_APPS + "mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        "mobilenet_v2", _mobilenet_preprocess_layer, 160, 32, "block_13_expand",
        "MobileNetV2 (alpha 1.0): 2.3 M parameters, 71.3% ImageNet top-1"),
    "efficientnet_b0": ImageNetSpec(
        "efficientnet_b0", "EfficientNetB0", {},
        "efficientnetb0_notop.h5", "https://storage.googleapis.com/keras-applications/efficientnetb0_notop.h5",
        "efficientnet", _identity_preprocess_layer, 224, 32, "block6a_expand_conv",
        "EfficientNetB0: 4.0 M parameters, 77.1% ImageNet top-1"),
    "mobilenet_v1_0.25": ImageNetSpec(
        "mobilenet_v1_0.25", "MobileNet", {"alpha": 0.25},
        "mobilenet_2_5_224_tf_no_top.h5", _KERAS_APPS + "mobilenet/mobilenet_2_5_224_tf_no_top.h5",
        "mobilenet", _mobilenet_preprocess_layer, 128, 32, "conv_dw_10",
        "MobileNet v1 (alpha 0.25): 0.2 M parameters, 50.6% ImageNet top-1"),
}
#: Strongest first: what a full run tries; smoke runs go straight to the small one.
DEFAULT_PREFERENCE = ("mobilenet_v2", "mobilenet_v1_0.25")


@dataclass
class Backbone:
    """A feature extractor without its classification top, and how to feed it.

    ``model_fn()`` builds it (weights loaded); ``preprocess`` maps ``[0, 255]`` pixels to what it expects
    (the ``keras.applications`` ``preprocess_input``); ``preprocess_layer()`` is the same as a saveable layer.
    """

    name: str
    model_fn: Callable
    preprocess: Callable
    input_size: int
    source: str
    weights_path: Path | None
    preprocess_layer: Callable
    unfreeze_from: str
    description: str = ""
    tried: list[str] = field(default_factory=list)

    def summary(self) -> str:
        where = f" from {self.weights_path.name}" if self.weights_path else ""
        return (f"Backbone: {self.name} [{self.source}]{where}, input {self.input_size}x{self.input_size}"
                + (f": {self.description}" if self.description else ""))


def weights_dirs(weights_dir: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for ImageNet weights files, in order."""
    from .data import course_datasets_dir

    dirs = []
    if weights_dir:
        dirs.append(Path(weights_dir).expanduser())
    env = os.environ.get("COURSE_WEIGHTS_DIR")
    if env:
        dirs.append(Path(env).expanduser())
    data_root = data_dir or os.environ.get("COURSE_DATA_DIR")
    if data_root:
        dirs.append(Path(data_root).expanduser() / "weights")
    dirs.append(course_datasets_dir() / "weights")
    dirs.append(keras_cache_dir())
    seen, unique = set(), []
    for d in dirs:
        if d not in seen:
            seen.add(d)
            unique.append(d)
    return unique


def keras_cache_dir() -> Path:
    """Where ``keras.applications`` caches downloaded weights: ``$KERAS_HOME/models`` (``~/.keras/models``)."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser() / "models"


def _check_size(spec: ImageNetSpec, size: int) -> int:
    if not isinstance(size, (int, np.integer)) or size < spec.min_size:
        raise ValueError(f"{spec.name}: input_size must be an integer >= {spec.min_size}, got {size!r}")
    return int(size)


def imagenet_backbone(name: str, weights_path: str | os.PathLike, input_size: int | None = None,
                      source: str = "imagenet-local") -> Backbone:
    """A :class:`Backbone` for the ImageNet model ``name`` with weights from ``weights_path`` (checked now)."""
    import importlib

    import keras

    if name not in IMAGENET_BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(IMAGENET_BACKBONES)}")
    spec = IMAGENET_BACKBONES[name]
    size = _check_size(spec, input_size or spec.input_size)
    path = Path(weights_path)

    def model_fn():
        constructor = getattr(keras.applications, spec.constructor)
        try:
            return constructor(include_top=False, weights=str(path), input_shape=(size, size, 3), **spec.kwargs)
        except Exception as exc:
            raise WeightsError(f"{path}: cannot load it as {spec.constructor} ImageNet weights "
                               f"({type(exc).__name__}: {exc}). Delete it to download it again, or fix "
                               f"COURSE_WEIGHTS_DIR.") from exc

    model_fn()  # fail now, naming the file, rather than later in the middle of a notebook
    module = importlib.import_module(f"keras.applications.{spec.preprocess_module}")
    return Backbone(name, model_fn, module.preprocess_input, size, source, path, spec.preprocess_layer,
                    spec.unfreeze_from, spec.description)


def find_local_weights(name: str, weights_dir=None, data_dir=None) -> Path | None:
    spec = IMAGENET_BACKBONES[name]
    return next((d / spec.file_name for d in weights_dirs(weights_dir, data_dir) if (d / spec.file_name).is_file()),
                None)


# --- the course's own backbone, for machines without any ImageNet weights ---------------------------

def course_cnn_backbone(input_size: int = 32, width: int = 32, name: str = "course_cnn") -> "keras.Model":
    """A small VGG-style CNN without top (three conv blocks, batch norm): the course's own backbone."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(input_size, input_size, 3))
    x = inputs
    for block, filters in enumerate((width, 2 * width, 4 * width), start=1):
        for i in (1, 2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"block{block}_conv{i}")(x)
            x = layers.BatchNormalization(momentum=0.9, name=f"block{block}_bn{i}")(x)  # settles in few steps
            x = layers.ReLU(name=f"block{block}_relu{i}")(x)
        if block < 3:
            x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    return keras.Model(inputs, x, name=name)


def _course_preprocess(x):
    return np.asarray(x, dtype="float32") / 255.0


def _course_preprocess_layer():
    import keras

    return keras.layers.Rescaling(1 / 255, name="preprocess")


def pretrain_course_backbone(x_source, y_source, input_size: int = 32, epochs: int = 5, batch_size: int = 64,
                             seed: int = config.DEFAULT_SEED, path: str | os.PathLike | None = None,
                             verbose: int = 2):
    """Train :func:`course_cnn_backbone` with a temporary head on the source task; return the backbone.

    ``x_source``: uint8 images (N, H, W[, C]); grey images are stacked to RGB and all are resized to
    ``input_size``. With ``path``, the trained backbone is saved there (``.keras``) and reused next time.
    """
    import keras

    if path is not None and Path(path).exists():
        try:
            return keras.models.load_model(path)
        except Exception as exc:
            raise WeightsError(f"{path}: not a loadable course backbone ({exc}); delete it to pretrain again") from exc
    x_source, y_source = np.asarray(x_source), np.asarray(y_source).astype("int64")
    if len(x_source) == 0 or len(x_source) != len(y_source):
        raise ValueError(f"source data: {len(x_source)} images and {len(y_source)} labels; need the same, > 0")
    num_classes = int(y_source.max()) + 1
    keras.utils.set_random_seed(seed)
    backbone = course_cnn_backbone(input_size)
    inputs = keras.Input(shape=rgb_shape(x_source.shape[1:]))
    x = keras.layers.Resizing(input_size, input_size, name="resize")(inputs)
    x = _course_preprocess_layer()(x)
    x = backbone(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name="course_pretraining")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(as_float(x_source), y_source, epochs=epochs, batch_size=batch_size, verbose=verbose, shuffle=True)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        backbone.save(path)
    return backbone


def course_backbone(x_source, y_source, input_size: int = 32, epochs: int = 5, path=None, seed: int = 42,
                    verbose: int = 2) -> Backbone:
    trained = pretrain_course_backbone(x_source, y_source, input_size, epochs, seed=seed, path=path, verbose=verbose)
    weights = trained.get_weights()

    def model_fn():
        fresh = course_cnn_backbone(input_size)
        fresh.set_weights(weights)
        return fresh

    return Backbone("course_cnn", model_fn, _course_preprocess, input_size, "course-pretrained",
                    Path(path) if path else None, _course_preprocess_layer, "block3_conv1",
                    f"a small CNN the course pretrained on {len(y_source)} source images "
                    f"({int(np.max(y_source)) + 1} source classes)")


# --- choosing -----------------------------------------------------------------------------------

def choose_backbone(preferred=DEFAULT_PREFERENCE, input_size: int | None = None, *, weights_dir=None,
                    data_dir=None, allow_download: bool | None = None, timeout: float | None = None,
                    source_data=None, pretrain_epochs: int = 5, pretrain_size: int = 32,
                    pretrain_path=None, seed: int = config.DEFAULT_SEED, verbose: bool = True) -> Backbone:
    """Return the best backbone this machine can have; print which path was taken and why.

    For each name in ``preferred`` (strongest first): a local weights file, else the official download
    (when ``allow_download``, default: unless ``COURSE_OFFLINE=1``). When no ImageNet weights can be had,
    ``source_data=(x, y)`` pretrains the course's own backbone on that source task (cached at
    ``pretrain_path``). A weights file that exists but does not load raises :class:`WeightsError`.
    """
    if isinstance(preferred, str):
        preferred = (preferred,)
    unknown = [n for n in preferred if n not in IMAGENET_BACKBONES]
    if unknown:
        raise ValueError(f"unknown backbone(s) {unknown}; choose from {sorted(IMAGENET_BACKBONES)}")
    allow_download = downloads_allowed() if allow_download is None else allow_download
    tried = []
    for name in preferred:
        spec = IMAGENET_BACKBONES[name]
        local = find_local_weights(name, weights_dir, data_dir)
        if local is not None:
            bb = imagenet_backbone(name, local, input_size, "imagenet-local")
            return _announce(bb, tried, verbose)
        tried.append(f"{name}: no {spec.file_name} in {', '.join(str(d) for d in weights_dirs(weights_dir, data_dir))}")
        if not allow_download:
            tried.append(f"{name}: download not allowed (COURSE_OFFLINE=1 or allow_download=False)")
            continue
        dest = keras_cache_dir() / spec.file_name
        try:
            path = download(spec.url, dest, timeout=timeout)
        except (DownloadError, ChecksumError) as exc:
            tried.append(f"{name}: {exc}")
            continue
        bb = imagenet_backbone(name, path, input_size, "imagenet-download")
        return _announce(bb, tried, verbose)
    if source_data is None:
        raise BackboneUnavailableError(
            "No ImageNet weights could be had:\n  " + "\n  ".join(tried) +
            "\nPut an official Keras weights file (e.g. " + IMAGENET_BACKBONES[preferred[-1]].file_name +
            ") in COURSE_WEIGHTS_DIR, allow the download, or pass source_data=(x, y) to pretrain the course's "
            "own backbone.")
    x_src, y_src = source_data
    bb = course_backbone(x_src, y_src, pretrain_size, pretrain_epochs, path=pretrain_path, seed=seed,
                         verbose=2 if verbose else 0)
    return _announce(bb, tried, verbose)


def _announce(bb: Backbone, tried: list[str], verbose: bool) -> Backbone:
    bb.tried = tried
    if verbose:
        why = {"imagenet-local": "ImageNet weights found on disk",
               "imagenet-download": "ImageNet weights downloaded from the official Keras URL",
               "course-pretrained": "NO ImageNet weights available: transferring from the course's own backbone, "
                                    "pretrained on a different source task"}[bb.source]
        print(f"Path taken: {bb.source} ({why})")
        for line in tried:
            print(f"  tried: {line}")
        print(bb.summary())
    return bb


# --- data ---------------------------------------------------------------------------------------

def rgb_shape(shape) -> tuple[int, int, int]:
    """``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)`` → ``(H, W, 3)``: the models take RGB (grey is stacked)."""
    shape = tuple(shape)
    return (shape[0], shape[1], 3)


def as_float(x) -> np.ndarray:
    """uint8 images (N, H, W) or (N, H, W, C) as float32 RGB pixels in [0, 255]."""
    x = np.asarray(x, dtype="float32")
    if x.ndim == 3:
        x = x[..., None]
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return x


def load_image_folders(root, image_size: int, batch_size: int = 32, seed: int = config.DEFAULT_SEED,
                       splits=("train", "val", "test")) -> tuple[dict, list[str]]:
    """``root/<split>/<class>/*.png`` as cached, prefetched ``tf.data`` datasets of RGB float pixels in [0, 255].

    Uses ``keras.utils.image_dataset_from_directory`` (one folder per class). The train split is shuffled
    (seeded, reshuffled each epoch, after the cache); val and test keep their order.
    """
    import keras
    import tensorflow as tf

    root = Path(root)
    out, class_names = {}, None
    for split in splits:
        folder = root / split
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: missing '{split}' folder; expected {root}/<split>/<class>/ "
                                    "(write it with folder_split.split_folder_dataset)")
        ds = keras.utils.image_dataset_from_directory(
            folder, labels="inferred", label_mode="int", color_mode="rgb", batch_size=None,
            image_size=(image_size, image_size), shuffle=False, verbose=False)
        if class_names is None:
            class_names = list(ds.class_names)
        elif list(ds.class_names) != class_names:
            raise ValueError(f"{folder}: classes {ds.class_names} differ from the train split's {class_names}")
        ds = ds.cache()
        if split == "train":
            ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
        out[split] = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return out, class_names


def to_numpy(dataset) -> tuple[np.ndarray, np.ndarray]:
    """All (image, label) batches of a tf.data dataset as two arrays."""
    xs, ys = [], []
    for x, y in dataset.as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def per_class_subset(x, y, n: int, seed: int = config.DEFAULT_SEED):
    """The first ``n`` images of each class after a seeded shuffle (fewer when a class has fewer)."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    keep = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:n] for c in np.unique(y)])
    keep = rng.permutation(keep)
    return x[keep], y[keep]


def make_dataset(x, y, batch_size: int = 32, training: bool = False, seed: int = config.DEFAULT_SEED):
    """Arrays as a cached, (shuffled,) batched, prefetched tf.data dataset, pixels kept in [0, 255]."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((as_float(x), np.asarray(y))).cache()
    if training:
        ds = ds.shuffle(min(len(x), 10_000), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


# --- models -------------------------------------------------------------------------------------

def build_transfer_model(bb: Backbone, image_shape, num_classes: int, dropout: float = 0.2, augment=None,
                         seed: int = config.DEFAULT_SEED):
    """``image → (augment) → resize → preprocess → backbone (frozen, inference mode) → head``.

    Returns ``(model, base, head)``: ``base`` is the backbone (``trainable=False``) and ``head`` the new
    classifier (global average pooling, dropout, dense softmax), both layers of ``model``.
    """
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    base = bb.model_fn()
    base.trainable = False
    inputs = keras.Input(shape=rgb_shape(image_shape), name="image")
    x = inputs
    if augment is not None:
        x = augment(x)
    features = base(_front(bb, x), training=False)  # batch norm stays in inference mode, even once unfrozen
    head = keras.Sequential([keras.Input(shape=features.shape[1:]), layers.GlobalAveragePooling2D(),
                             layers.Dropout(dropout), layers.Dense(num_classes, activation="softmax")], name="head")
    model = keras.Model(inputs, head(features), name=f"{bb.name}_transfer")
    return model, base, head


def _front(bb: Backbone, x):
    """Resize to the backbone's input size (when needed), then its own preprocessing."""
    import keras

    if tuple(x.shape[1:3]) != (bb.input_size, bb.input_size):
        x = keras.layers.Resizing(bb.input_size, bb.input_size, name="resize")(x)
    return bb.preprocess_layer()(x)


def scratch_model(image_shape, num_classes: int, seed: int = config.DEFAULT_SEED):
    """The reference CIFAR CNN (``models.cifar_reference_cnn``) behind a [0, 255] → [0, 1] rescaling."""
    import keras

    from .models import cifar_reference_cnn

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=rgb_shape(image_shape), name="image")
    x = keras.layers.Rescaling(1 / 255)(inputs)
    cnn = cifar_reference_cnn(rgb_shape(image_shape), num_classes)
    return keras.Model(inputs, cnn(x), name="from_scratch")


def compile_model(model, lr: float):
    import keras

    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def unfreeze_top(base, from_layer: str | None = None, n_layers: int | None = None) -> int:
    """Make the backbone's top blocks trainable (from layer ``from_layer``, or the last ``n_layers``).

    Batch-norm layers stay frozen. Returns the number of trainable weight tensors.
    """
    import keras

    names = [layer.name for layer in base.layers]
    if from_layer is not None:
        if from_layer not in names:
            raise ValueError(f"{base.name}: no layer named {from_layer!r} (top layers: {names[-5:]})")
        start = names.index(from_layer)
    elif n_layers is not None:
        start = max(0, len(names) - int(n_layers))
    else:
        start = 0
    base.trainable = True
    for i, layer in enumerate(base.layers):
        layer.trainable = i >= start and not isinstance(layer, keras.layers.BatchNormalization)
    return len(base.trainable_weights)


def predict_features(bb: Backbone, base, x, batch_size: int = 128) -> np.ndarray:
    """Run the frozen part once: the backbone's feature maps for images ``x`` (float32)."""
    import keras

    inputs = keras.Input(shape=rgb_shape(np.shape(x)[1:]))
    extractor = keras.Model(inputs, base(_front(bb, inputs), training=False))
    return extractor.predict(as_float(x), batch_size=batch_size, verbose=0)


# --- the three recipes, measured -------------------------------------------------------------------

def _accuracy(model, x, y, batch_size: int = 128) -> float:
    pred = model.predict(as_float(x), batch_size=batch_size, verbose=0).argmax(axis=1)
    return float(np.mean(pred == np.asarray(y)))


def feature_extraction(bb: Backbone, train, val, test, num_classes: int, epochs: int = 10, lr: float = 1e-3,
                       batch_size: int = 32, dropout: float = 0.2, seed: int = config.DEFAULT_SEED,
                       verbose: int = 0, features: dict | None = None):
    """Frozen backbone + new head, trained on features computed once (the fast way on a CPU).

    ``train``/``val``/``test`` are ``(x, y)`` arrays. Returns ``(model, base, result)`` where ``model``
    is the whole image classifier (its head holds the trained weights) and ``result`` has
    ``test_accuracy``, ``val_accuracy``, ``seconds`` and the head's ``history``.
    """
    start = time.perf_counter()
    model, base, head = build_transfer_model(bb, train[0].shape[1:], num_classes, dropout, seed=seed)
    f = features or {name: predict_features(bb, base, xy[0]) for name, xy in
                     (("train", train), ("val", val), ("test", test))}
    compile_model(head, lr)
    history = head.fit(f["train"], np.asarray(train[1]), validation_data=(f["val"], np.asarray(val[1])),
                       epochs=epochs, batch_size=batch_size, verbose=verbose, shuffle=True)
    test_acc = float(np.mean(head.predict(f["test"], verbose=0).argmax(1) == np.asarray(test[1])))
    return model, base, {"test_accuracy": test_acc, "val_accuracy": float(history.history["val_accuracy"][-1]),
                         "seconds": time.perf_counter() - start, "history": history.history}


def fine_tune(model, base, train, val, test, epochs: int = 3, lr: float = 1e-5, batch_size: int = 32,
              from_layer: str | None = None, seed: int = config.DEFAULT_SEED, verbose: int = 0, callbacks=None):
    """Unfreeze the backbone's top blocks, recompile with a low learning rate, train a few epochs."""
    start = time.perf_counter()
    n_trainable = unfreeze_top(base, from_layer=from_layer)
    compile_model(model, lr)
    history = model.fit(make_dataset(*train, batch_size, training=True, seed=seed),
                        validation_data=make_dataset(*val, 128), epochs=epochs, verbose=verbose, shuffle=False,
                        callbacks=callbacks or [])
    return {"test_accuracy": _accuracy(model, *test), "val_accuracy": float(history.history["val_accuracy"][-1]),
            "seconds": time.perf_counter() - start, "history": history.history, "trainable_tensors": n_trainable}


def from_scratch(train, val, test, num_classes: int, epochs: int = 10, lr: float = 1e-3, batch_size: int = 32,
                 seed: int = config.DEFAULT_SEED, verbose: int = 0):
    """The reference CNN, randomly initialised, trained on the same images."""
    start = time.perf_counter()
    model = scratch_model(train[0].shape[1:], num_classes, seed)
    compile_model(model, lr)
    history = model.fit(make_dataset(*train, batch_size, training=True, seed=seed),
                        validation_data=make_dataset(*val, 128), epochs=epochs, verbose=verbose, shuffle=False)
    return model, {"test_accuracy": _accuracy(model, *test), "val_accuracy": float(history.history["val_accuracy"][-1]),
                   "seconds": time.perf_counter() - start, "history": history.history}


def weight_change(pretrained, tuned) -> float:
    """How far fine-tuning moved the backbone: ``||tuned - pretrained|| / ||pretrained||``.

    Both are backbone models of the same architecture; only the kernels of the layers trainable in ``tuned``
    count (frozen layers and batch-norm statistics do not move).
    """
    num = den = 0.0
    for layer in tuned.layers:
        if not layer.trainable or not layer.trainable_weights:
            continue
        for before, after in zip(pretrained.get_layer(layer.name).trainable_weights, layer.trainable_weights):
            b, a = np.asarray(before), np.asarray(after)
            num += float(np.sum((a - b) ** 2))
            den += float(np.sum(b ** 2))
    return float(np.sqrt(num / den)) if den else 0.0


def compare_by_size(bb: Backbone, train, val, test, num_classes: int, sizes, head_epochs: int, ft_epochs: int,
                    ft_lr: float = 1e-5, seed: int = config.DEFAULT_SEED, progress: bool = True) -> list[dict]:
    """Test accuracy of from-scratch, feature extraction and fine-tuning at each training-set size.

    ``sizes`` are images per class; from scratch trains for ``head_epochs + ft_epochs`` epochs, the same
    number the transfer model gets in all.
    """
    from tqdm.auto import tqdm

    rows = []
    for n in tqdm(list(sizes), desc="training-set sizes", disable=not progress):
        tr = per_class_subset(*train, n, seed=seed)
        _, scratch = from_scratch(tr, val, test, num_classes, epochs=head_epochs + ft_epochs, seed=seed)
        model, base, fe = feature_extraction(bb, tr, val, test, num_classes, epochs=head_epochs, seed=seed)
        ft = fine_tune(model, base, tr, val, test, epochs=ft_epochs, lr=ft_lr, from_layer=bb.unfreeze_from, seed=seed)
        for method, res in (("from scratch", scratch), ("feature extraction", fe), ("fine-tuning", ft)):
            rows.append({"per_class": int(n), "train_images": len(tr[1]), "method": method,
                         "test_accuracy": res["test_accuracy"], "seconds": res["seconds"]})
    return rows
