"""Model builders: the reference recipes the course reproduces, and the course's own architectures.

Taught in notebooks 04 (architecture) and 05 (training).
"""
from __future__ import annotations

import keras
from keras import layers


def fashion_reference_cnn(input_shape=(28, 28, 1), num_classes: int = 10) -> keras.Model:
    """The reference Fashion-MNIST CNN (published: 90.84% test accuracy).

    Conv(32) → MaxPool → Conv(64) → MaxPool → Flatten → Dropout(0.3) → Dense(128) → Dense(softmax).
    """
    inputs = keras.Input(shape=input_shape)
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(128, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="fashion_reference_cnn")


def cifar_reference_cnn(input_shape=(32, 32, 3), num_classes: int = 10) -> keras.Model:
    """The reference CIFAR-10 CNN (published: about 70% test accuracy).

    Conv(32, same) → MaxPool → Conv(64, same) → MaxPool → Conv(64, same) → Flatten → Dense(64) → Dense(softmax).
    """
    inputs = keras.Input(shape=input_shape)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="cifar_reference_cnn")
