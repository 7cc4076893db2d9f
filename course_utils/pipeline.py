"""tf.data input pipelines: scale, (augment), cache, shuffle, batch, prefetch.

Taught in notebook 03; used by the training notebooks.
"""
from __future__ import annotations

import numpy as np


def add_channel_axis(x: np.ndarray) -> np.ndarray:
    """(N, H, W) grey images become (N, H, W, 1): Keras convolutions expect a channel axis."""
    return x[..., None] if x.ndim == 3 else x


def augmentation(kind: str = "light", seed: int | None = None):
    """Keras preprocessing layers for augmentation (active only in training).

    ``"flip"``: horizontal flips; ``"light"``: flips and small shifts; ``"strong"``: also rotation and zoom.
    """
    import keras

    layers = [keras.layers.RandomFlip("horizontal", seed=seed)]
    if kind in ("light", "strong"):
        layers.append(keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed))
    if kind == "strong":
        layers += [keras.layers.RandomRotation(0.05, fill_mode="constant", seed=seed),
                   keras.layers.RandomZoom(0.1, fill_mode="constant", seed=seed)]
    return keras.Sequential(layers, name=f"augment_{kind}")


def make_dataset(x, y, batch_size: int = 64, training: bool = False, seed: int = 42,
                 augment=None, image_size: int | None = None, one_hot: int | None = None,
                 cache: bool = True):
    """A batched ``tf.data.Dataset`` of float32 images in [0, 1] with their labels.

    ``training=True`` shuffles (seeded) and applies ``augment`` (a Keras layer/model) after caching, so
    every epoch sees new variants; ``image_size`` resizes; ``one_hot=num_classes`` one-hot encodes labels.
    """
    import tensorflow as tf

    x = add_channel_axis(np.asarray(x))
    ds = tf.data.Dataset.from_tensor_slices((x, np.asarray(y)))

    def prepare(image, label):
        image = tf.cast(image, tf.float32) / 255.0
        if image_size:
            image = tf.image.resize(image, (image_size, image_size))
        if one_hot:
            label = tf.one_hot(tf.cast(label, tf.int32), one_hot)
        return image, label

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(min(len(x), 10_000), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if training and augment is not None:
        ds = ds.map(lambda images, labels: (augment(images, training=True), labels),
                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)
