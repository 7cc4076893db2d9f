"""Training helpers: the one-cycle schedule, timing callbacks, and the course's recipes.

Notebook 05 teaches training in plain Keras (``compile``, ``fit``, the callbacks ``EarlyStopping``,
``ModelCheckpoint`` and ``BackupAndRestore``); this module keeps what ``make bench``
(``course_tools.bench.recipes``) and the other notebooks reuse. :func:`one_cycle` is the same code as notebook
05's cell (``tests/test_lesson_sources.py`` keeps the two the same); :func:`fit_recipe` strings everything
together for a named recipe of :data:`RECIPES`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from . import config, evaluate, models, pipeline


# --- timing callbacks (make bench) -------------------------------------------------------------------

class Timer(keras.callbacks.Callback):
    """Measures wall time per epoch and for the whole ``fit`` (``epoch_seconds``, ``seconds``)."""

    def on_train_begin(self, logs=None):
        self.epoch_seconds, self._start = [], time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(time.perf_counter() - self._epoch_start)

    def on_train_end(self, logs=None):
        self.seconds = time.perf_counter() - self._start


class AccuracyCurve(keras.callbacks.Callback):
    """After every epoch: the training seconds so far and the accuracy on held-out images, written into ``logs``.

    An accuracy–time curve from one run: ``logs["train_seconds"]`` and ``logs["heldout_accuracy"]`` go into Keras'
    History (``history.history``) like the loss, and callbacks listed after this one (``EarlyStopping``) can
    monitor them. Its own evaluation time is kept apart in ``eval_seconds``, out of ``train_seconds``: subtract it
    from a timer that spans the whole ``fit`` (``make bench`` does). Taught in notebook 05 (the same code). With a
    one-cycle schedule, mid-run points are mid-schedule: a run planned to stop there would do a little better.
    """

    def __init__(self, images, labels, flip_tta: bool = False, translate_tta: int = 0):
        super().__init__()
        self.images, self.labels = images, np.asarray(labels)
        self.flip_tta, self.translate_tta = flip_tta, translate_tta  # test-time augmentation (see predict_proba)

    def on_train_begin(self, logs=None):
        self.train_seconds = self.eval_seconds = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        start = time.perf_counter()
        self.train_seconds += start - self.epoch_start  # this epoch's training, not the evaluation below
        probs = evaluate.predict_proba(self.model, self.images, flip_tta=self.flip_tta,
                                       translate_tta=self.translate_tta)
        logs["train_seconds"] = self.train_seconds
        logs["heldout_accuracy"] = float(np.mean(probs.argmax(axis=1) == self.labels))
        self.eval_seconds += time.perf_counter() - start


# --- the learning-rate schedule (taught in notebook 05) -------------------------------------------------

def one_cycle(total_steps: int, max_lr: float = 3e-3, warmup_fraction: float = 0.25, start_lr: float | None = None,
              final_fraction: float = 1e-3):
    """One-cycle schedule: linear warm-up to ``max_lr`` for ``warmup_fraction`` of the steps, then cosine decay.

    Starts at ``start_lr`` (default ``max_lr / 10``) and ends at ``max_lr · final_fraction``. Built on
    ``keras.optimizers.schedules.CosineDecay`` and its warm-up arguments, so it saves with the model.
    Taught in notebook 05 (the same code).
    """
    if total_steps < 1:
        raise ValueError(f"one_cycle needs total_steps >= 1, got {total_steps}")
    warmup_steps = int(total_steps * warmup_fraction)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=start_lr if start_lr is not None else max_lr / 10,  # where the warm-up starts
        warmup_target=max_lr, warmup_steps=warmup_steps,  # a straight line up to the peak
        decay_steps=max(1, total_steps - warmup_steps), alpha=final_fraction)  # then a cosine down to the end


# --- recipes ---------------------------------------------------------------------------------------

@dataclass
class Recipe:
    """Everything that defines a training run, apart from the data."""

    name: str
    build: str                       # name of a builder in course_utils.models
    build_kwargs: dict = field(default_factory=dict)
    epochs: int = 20
    batch_size: int = 64
    one_hot: bool = False            # categorical (one-hot) instead of sparse integer labels
    validation_split: float = 0.2    # Keras-style: the LAST fraction of the training split
    early_stopping: int | None = None
    checkpoint: bool = False
    max_lr: float | None = None      # None: Adam's default 1e-3, constant; else one-cycle to max_lr
    weight_decay: float | None = None  # AdamW when set
    label_smoothing: float = 0.0
    augment: str | None = None       # "flip" | "light" | "strong" | "shift" (pipeline.augmentation / shifts)
    tf_data: bool = False            # False: numpy arrays straight into fit (as the reference recipes do)
    flip_tta: bool = False           # test-time augmentation: average the predictions for each image and its mirror
    translate_tta: int = 0           # and for it shifted this many pixels each way (evaluate.predict_proba)
    # the fast recipes (make bench, issue 15): all optional, the defaults leave the recipes above as they were
    optimizer: str = "adam"          # "adam" (AdamW with weight_decay) | "sgd" (Nesterov momentum)
    momentum: float = 0.9            # SGD's momentum
    warmup_fraction: float = 0.25    # one_cycle's warm-up share of the steps
    ema: float | None = None         # keep an exponential moving average of the weights (this momentum) and end on it
    precision: str | None = None     # a Keras dtype policy to build this recipe's model in ("mixed_bfloat16")


def fast_recipe(name: str, widths: tuple, epochs: int, translate_tta: int = 0) -> Recipe:
    """The course_fast recipes (airbench's ideas, issue 15): ``fast_cnn`` at these widths for these epochs, the rest
    shared: batch 256, Nesterov SGD with a 20% warm-up to 0.375, L2 6.7e-4, label smoothing 0.2, translate-by-2 and
    flips, flip TTA (and translate TTA by ``translate_tta`` pixels), bfloat16 where it is native."""
    return Recipe(name, "fast_cnn", {"widths": widths, "l2": 6.7e-4}, epochs=epochs, batch_size=256,
                  validation_split=0.0, optimizer="sgd", momentum=0.85, max_lr=0.375, warmup_fraction=0.2,
                  label_smoothing=0.2, augment="translate_flip2", tf_data=True, flip_tta=True,
                  translate_tta=translate_tta, precision="mixed_bfloat16")


RECIPES = {
    ("fashion_mnist", "reference"): Recipe(
        "reference", "fashion_reference_cnn", epochs=20, batch_size=64, early_stopping=3, checkpoint=True),
    # the reference layout plus BatchNorm, a wider dense layer, one-cycle, label smoothing and all 60,000 images
    # (the fixed schedule needs no validation split). make bench, 2026-11-24, 2-core CPU: 92.32% in 0.92x the
    # reference's training time (README, Results). Notebook 05 trains it with these values.
    ("fashion_mnist", "course"): Recipe(
        "course", "small_cnn", {"widths": (32, 64), "dense": 256, "dropout": 0.3, "batchnorm": True},
        epochs=7, batch_size=128, validation_split=0.0, max_lr=4e-3, label_smoothing=0.1, tf_data=True),
    # the budget spent on depth at low resolution: a third conv block at 7×7 (cheap there), mirrored clothes in
    # training and at test time, 16 epochs on all 60,000 images
    ("fashion_mnist", "course_long"): Recipe(
        "course_long", "course_cnn", {"widths": (32, 64, 128), "convs_per_block": 1, "dense": 256, "dropout": 0.2},
        epochs=16, batch_size=128, validation_split=0.0, max_lr=4e-3, label_smoothing=0.1, augment="flip",
        tf_data=True, flip_tta=True),
    # airbench's ideas (below, for CIFAR-10) at Fashion-MNIST's size: half the CIFAR-10 widths and 7 epochs, to
    # train within the reference's time (taught in notebook 05). Development runs (seed 42, 5,000 validation
    # images): 7 epochs 94.5% validation, 8 epochs 94.3%, widths (32, 64, 96) 94.6%: all within the noise
    ("fashion_mnist", "course_fast"): fast_recipe("course_fast", (32, 64, 128), epochs=7),
    # the same for twice the epochs: a stronger point at about twice the time (course_long takes 4.5x)
    ("fashion_mnist", "course_fast_long"): fast_recipe("course_fast_long", (32, 64, 128), epochs=14),
    ("cifar10", "reference"): Recipe(
        "reference", "cifar_reference_cnn", epochs=15, batch_size=64, one_hot=True),
    ("cifar10", "course"): Recipe(
        "course", "course_resnet", {"widths": (32, 64, 128), "residual": (True, False, True), "l2": 0.0},
        epochs=8, batch_size=64, validation_split=0.04, max_lr=3e-3, weight_decay=0.02, label_smoothing=0.1,
        augment="crop_flip", tf_data=True, flip_tta=True),
    # airbench's ideas (issue 15), sized for a 2-core CPU: a frozen patch-whitening first conv, three BatchNorm
    # blocks (64, 128, 256), Nesterov SGD with warm-up and decay, L2 through the momentum, label smoothing 0.2,
    # cheap translate-by-2 and flips, flip and translate TTA, and bfloat16 compute (AVX512-BF16: about 1.6x the
    # float32 rate). Translate TTA, development runs (seed 42, 5,000 validation images): 88.30% -> 88.62% after 11
    # epochs, 88.04% -> 88.00% after 10
    ("cifar10", "course_fast"): fast_recipe("course_fast", (64, 128, 256), epochs=8, translate_tta=1),
    # the same for 11 epochs: the moonshot (88%) within the same 3.5x. 12 epochs took 3.81x on a quiet host; 10
    # epochs reached 88.04% on validation, 11 epochs 88.62% in 805 s
    ("cifar10", "course_fast_long"): fast_recipe("course_fast_long", (64, 128, 256), epochs=11, translate_tta=1),
}


def get_recipe(dataset: str, recipe: str) -> Recipe:
    try:
        return RECIPES[(dataset, recipe)]
    except KeyError:
        known = sorted(f"{d}/{r}" for d, r in RECIPES)
        raise KeyError(f"no recipe {recipe!r} for data set {dataset!r}; known: {known}") from None


def augmentation_layer(kind: str | None, seed: int = 42):
    """The augmentation for a recipe: pipeline's kinds, ``shift`` (translations only: for clothes that are
    never mirrored in a way that changes the class, flips are fine too, but shifts matter most) and
    ``crop_flip`` (pad-and-crop style shifts by up to 4 pixels plus flips, the CIFAR classic)."""
    if kind is None:
        return None
    if kind == "shift":
        return keras.Sequential([keras.layers.RandomTranslation(0.08, 0.08, fill_mode="constant", seed=seed),
                                 keras.layers.RandomFlip("horizontal", seed=seed)], name="augment_shift")
    if kind.startswith("translate_flip"):  # "translate_flip" or "translate_flip<pixels>"
        return TranslateFlip(int(kind[len("translate_flip"):] or 2), seed=seed)
    if kind == "crop_flip":
        return keras.Sequential([keras.layers.RandomFlip("horizontal", seed=seed),
                                 keras.layers.RandomTranslation(0.125, 0.125, fill_mode="reflect", seed=seed)],
                                name="augment_crop_flip")
    return pipeline.augmentation(kind, seed=seed)


class TranslateFlip:
    """Random translations by up to ``pixels`` (reflected borders) and horizontal flips of a batch of images.

    The same augmentation as ``crop_flip``, done with two gathers instead of an image transform per image: on a
    2-core CPU the input pipeline shares the cores with training, so it has to be cheap.
    """

    def __init__(self, pixels: int = 2, seed: int = 42):
        self.pixels, self.seed = pixels, seed

    def __call__(self, images, training: bool = True):
        import tensorflow as tf

        if not training or not self.pixels:
            return images
        p = self.pixels
        shape = tf.shape(images)
        n, h, w = shape[0], shape[1], shape[2]
        padded = tf.pad(images, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")
        dy = tf.random.uniform([n], 0, 2 * p + 1, dtype=tf.int32, seed=self.seed)
        dx = tf.random.uniform([n], 0, 2 * p + 1, dtype=tf.int32, seed=self.seed + 1)
        rows = dy[:, None] + tf.range(h)[None, :]
        cols = dx[:, None] + tf.range(w)[None, :]
        flip = tf.random.uniform([n], seed=self.seed + 2) < 0.5
        cols = tf.where(flip[:, None], tf.reverse(cols, axis=[1]), cols)
        out = tf.gather(padded, rows, axis=1, batch_dims=1)
        return tf.gather(out, cols, axis=2, batch_dims=1)


def make_optimizer(recipe: Recipe, learning_rate):
    """The recipe's optimizer: Adam (AdamW with ``weight_decay``) or Nesterov SGD, with its weights' EMA if asked."""
    ema = {"use_ema": True, "ema_momentum": recipe.ema} if recipe.ema else {}
    if recipe.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=recipe.momentum, nesterov=True,
                                    weight_decay=recipe.weight_decay, **ema)
    if recipe.optimizer != "adam":
        raise ValueError(f"unknown optimizer {recipe.optimizer!r}: 'adam' or 'sgd'")
    if recipe.weight_decay:
        return keras.optimizers.AdamW(learning_rate, weight_decay=recipe.weight_decay, **ema)
    return keras.optimizers.Adam(learning_rate, **ema)


def compile_model(model, learning_rate=1e-3, *, optimizer=None, one_hot: bool = False, label_smoothing: float = 0.0):
    """The one compile of the library: an optimizer, the cross-entropy that fits the labels, accuracy.

    ``optimizer`` defaults to Adam at ``learning_rate`` (a number or a schedule); :func:`make_optimizer` builds a
    recipe's. Integer labels → sparse categorical cross-entropy; one-hot labels → categorical cross-entropy
    (the only one of the two that accepts label smoothing, so smoothing switches to one-hot).
    """
    loss = (keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing) if one_hot
            else keras.losses.SparseCategoricalCrossentropy())
    model.compile(optimizer=optimizer or keras.optimizers.Adam(learning_rate), loss=loss, metrics=["accuracy"])
    return model


@dataclass
class FitResult:
    recipe: Recipe
    model: object
    history: dict
    test_accuracy: float
    wall_seconds: float          # time spent in model.fit (training only)
    epochs_run: int

    def row(self, dataset: str) -> dict:
        return {"dataset": dataset, "recipe": self.recipe.name, "test_accuracy": round(self.test_accuracy, 4),
                "wall_seconds": round(self.wall_seconds, 1), "epochs": self.epochs_run}


def fit_recipe(recipe: Recipe, x_train, y_train, x_test, y_test, num_classes: int, *, epochs: int | None = None,
               work_dir=None, seed: int = 42, verbose: int = 2, callbacks=(), strategy=None) -> FitResult:
    """Train ``recipe`` on uint8 images and evaluate it on the test split (never seen during training).

    Validation comes from the last ``validation_split`` of the training split, as Keras does.
    ``epochs`` overrides the recipe's (smoke runs). ``work_dir`` holds the checkpoint. ``strategy`` is the
    ``tf.distribute`` strategy to build and compile the model under (a :class:`course_utils.Run`'s ``strategy``;
    None: the current one). The model computes in the global dtype policy, its softmax in float32.
    """
    import tensorflow as tf

    epochs = epochs or recipe.epochs
    x_train = pipeline.add_channel_axis(np.asarray(x_train))
    x_test = pipeline.add_channel_axis(np.asarray(x_test))
    one_hot = recipe.one_hot or recipe.label_smoothing > 0
    n_val = int(len(x_train) * recipe.validation_split)
    x_tr, y_tr = x_train[:len(x_train) - n_val], y_train[:len(y_train) - n_val]
    x_val, y_val = x_train[len(x_train) - n_val:], y_train[len(y_train) - n_val:]
    steps = int(np.ceil(len(x_tr) / recipe.batch_size)) * epochs
    lr = one_cycle(steps, recipe.max_lr, recipe.warmup_fraction) if recipe.max_lr else 1e-3

    builder = getattr(models, recipe.build)
    policy = keras.mixed_precision.global_policy()
    if recipe.precision and (recipe.precision != "mixed_bfloat16" or config.bfloat16_is_fast()):
        keras.mixed_precision.set_global_policy(recipe.precision)  # bfloat16 only where it is native, not emulated
    try:
        with (strategy or tf.distribute.get_strategy()).scope():
            model = builder(input_shape=x_train.shape[1:], num_classes=num_classes, **recipe.build_kwargs)
            models.set_whitening(model, x_tr[:10_000].astype("float32") / 255.0, seed=seed)  # if it has one
            compile_model(model, optimizer=make_optimizer(recipe, lr), one_hot=one_hot,
                          label_smoothing=recipe.label_smoothing)
    finally:
        keras.mixed_precision.set_global_policy(policy)

    timer = Timer()
    cbs = [timer, *callbacks]
    if recipe.early_stopping:  # the callbacks notebook 05 teaches
        cbs.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=recipe.early_stopping,
                                                 restore_best_weights=True))
    if recipe.checkpoint:
        path = Path(work_dir or ".") / f"{recipe.name}_best.keras"
        path.parent.mkdir(parents=True, exist_ok=True)
        cbs.append(keras.callbacks.ModelCheckpoint(str(path), monitor="val_loss", save_best_only=True))

    def encode(y):
        return keras.utils.to_categorical(y, num_classes) if one_hot else y

    if recipe.tf_data:
        augment = augmentation_layer(recipe.augment, seed)
        train = pipeline.make_dataset(x_tr, y_tr, recipe.batch_size, training=True, seed=seed, augment=augment,
                                      one_hot=num_classes if one_hot else None)
        val = (pipeline.make_dataset(x_val, y_val, 512, one_hot=num_classes if one_hot else None)
               if n_val else None)
        history = model.fit(train, validation_data=val, epochs=epochs, callbacks=cbs, verbose=verbose,
                            shuffle=False)  # the dataset shuffles itself (seeded)
    else:  # the reference recipes: arrays scaled to [0, 1], Keras' validation_split
        history = model.fit(x_train.astype("float32") / 255.0, encode(y_train), batch_size=recipe.batch_size,
                            epochs=epochs, validation_split=recipe.validation_split or 0.0, callbacks=cbs,
                            verbose=verbose)
    probs = evaluate.predict_proba(model, x_test, batch_size=512, flip_tta=recipe.flip_tta,
                                   translate_tta=recipe.translate_tta)
    accuracy = float(np.mean(np.argmax(probs, axis=1) == np.asarray(y_test)))
    return FitResult(recipe, model, history.history, accuracy, timer.seconds, len(history.history["loss"]))
