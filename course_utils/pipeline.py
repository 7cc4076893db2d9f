"""tf.data input pipelines: scale, (resize, one-hot), cache, shuffle, batch, (augment), prefetch.

Taught in notebook 03, which writes these functions out step by step (a test keeps its cells and this module the
same code); used by the training notebooks, evaluation and ``make bench``.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def add_channel_axis(x):
    """(N, H, W) grey images become (N, H, W, 1); images that already have a channel axis stay as they are.

    Keras convolutions expect batches shaped (batch, height, width, channels). Notebook 03, section 2.
    """
    return x[..., None] if x.ndim == 3 else x


def augmentation(kind: str = "light", seed: int | None = None):
    """Keras preprocessing layers for augmentation, active only in training: "flip", "light" or "strong".

    ``"flip"``: horizontal flips; ``"light"``: flips and shifts of up to 10%; ``"strong"``: also rotation (±18°)
    and zoom (±10%). A ``keras.Sequential``, usable in a model or mapped over batches in a pipeline.
    Notebook 03, section 5.
    """
    layers = [keras.layers.RandomFlip("horizontal", seed=seed)]
    if kind in ("light", "strong"):
        layers.append(keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed))
    if kind == "strong":
        layers += [keras.layers.RandomRotation(0.05, fill_mode="constant", seed=seed),
                   keras.layers.RandomZoom(0.1, fill_mode="constant", seed=seed)]
    return keras.Sequential(layers, name=f"augment_{kind}")


def make_dataset(x, y, batch_size: int = 64, training: bool = False, seed: int = 42, augment=None,
                 image_size: int | None = None, one_hot: int | None = None, cache: bool = True):
    """A batched ``tf.data.Dataset`` of float32 images in [0, 1] with their labels.

    ``x`` holds uint8 images, (N, H, W) or (N, H, W, C). ``training=True`` shuffles (seeded, a new order every
    epoch) and applies ``augment`` (a Keras layer or model) to each batch after the cache, so every epoch sees new
    variants; ``image_size`` resizes to ``image_size × image_size``; ``one_hot=num_classes`` one-hot encodes the
    labels; ``cache=False`` re-runs the map every pass. Notebook 03, section 6.
    """
    x = add_channel_axis(np.asarray(x))

    def prepare(image, label):
        image = tf.cast(image, tf.float32) / 255.0
        if image_size:
            image = tf.image.resize(image, (image_size, image_size))
        if one_hot:
            label = tf.one_hot(tf.cast(label, tf.int32), one_hot)
        return image, label

    dataset = tf.data.Dataset.from_tensor_slices((x, np.asarray(y)))
    dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache:
        dataset = dataset.cache()
    if training:
        dataset = dataset.shuffle(min(len(x), 10_000), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if training and augment is not None:
        dataset = dataset.map(lambda images, labels: (augment(images, training=True), labels),
                              num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)
