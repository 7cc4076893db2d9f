"""Transfer learning: the recipe notebook 07 teaches, for ``make bench`` (``course_tools.bench.transfer``).

:func:`pretrained_base`, :func:`build_transfer_model`, :func:`compile_and_fit`, :func:`unfreeze_top` and
:func:`compare_by_size` are the same code as the notebook's cells (``tests/test_lesson_sources.py`` keeps them so);
:func:`weight_change` measures how far training moved a backbone. Which weights file to pass as ``weights`` is
:mod:`course_utils.backbones`' concern. The models take RGB pixels in [0, 255] (what
``keras.utils.image_dataset_from_directory`` yields) and output float32 probabilities, also under mixed precision.
"""
from __future__ import annotations

import dataclasses
import time

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from . import data, train


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
    # float32 probabilities, even where the layers before compute in float16 (mixed precision)
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs)


def compile_and_fit(model, train_ds, val_ds, epochs, lr=1e-3, initial_epoch=0, verbose=2):
    """(Re)compile with Adam at ``lr``, then train up to epoch ``epochs`` (taught in notebook 07)."""
    train.compile_model(model, learning_rate=lr)  # Adam, sparse categorical cross-entropy, accuracy
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


def compare_by_size(weights, train_set, test_ds, num_classes, sizes, image_size, head_epochs, ft_epochs, n_layers,
                    head_lr=3e-3, ft_lr=1e-4, seed=42):
    """Test accuracy from scratch, by feature extraction and by fine-tuning, with ``n`` images per class.

    ``train_set`` is ``(x, y)`` arrays of RGB pixels in [0, 255]. From scratch is notebook 05's fast recipe (CIFAR-10's
    ``course_fast``) at the transfer models' batch size, trained ``head_epochs + ft_epochs`` epochs, as many as the
    transfer model gets in all; the seconds of fine-tuning include those of the feature extraction before it
    (taught in notebook 07).
    """
    rows = []
    x_test, y_test = map(np.concatenate, zip(*test_ds.as_numpy_iterator()))  # fit_recipe scores arrays
    scratch_recipe = dataclasses.replace(train.get_recipe("cifar10", "course_fast"), batch_size=32)
    progress = tqdm(total=3 * len(sizes), desc="trainings")  # three methods per size
    for n in sizes:
        x, y = data.stratified_subset(*train_set, n * num_classes, seed=seed)
        subset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=seed).batch(32)
        keras.utils.set_random_seed(seed)
        start = time.perf_counter()
        scratch = train.fit_recipe(scratch_recipe, x.astype("uint8"), y, x_test.astype("uint8"), y_test, num_classes,
                                   epochs=head_epochs + ft_epochs, seed=seed, verbose=0)  # uint8: pixels as stored
        measured = [("from scratch", scratch.test_accuracy, time.perf_counter() - start)]
        progress.update()
        start = time.perf_counter()
        base = pretrained_base(weights, image_size)
        model = build_transfer_model(base, num_classes, x.shape[1:])
        compile_and_fit(model, subset, None, head_epochs, lr=head_lr, verbose=0)
        measured.append(("feature extraction", model.evaluate(test_ds, verbose=0, return_dict=True)["accuracy"],
                         time.perf_counter() - start))
        progress.update()
        unfreeze_top(base, n_layers)
        compile_and_fit(model, subset, None, head_epochs + ft_epochs, lr=ft_lr, initial_epoch=head_epochs, verbose=0)
        measured.append(("fine-tuning", model.evaluate(test_ds, verbose=0, return_dict=True)["accuracy"],
                         time.perf_counter() - start))
        progress.update()
        progress.write(f"{n} images per class: " + ", ".join(f"{method} {acc:.3f}" for method, acc, _ in measured))
        rows += [{"per_class": n, "train_images": len(y), "method": method, "test_accuracy": acc,
                  "seconds": round(seconds, 1)} for method, acc, seconds in measured]
    progress.close()
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
