"""Grad-CAM: which parts of an image made a CNN choose its class (Selvaraju et al., 2017).

Taught in notebook 06, whose cells define :func:`last_conv_layer_name`, :func:`without_softmax` and
:func:`grad_cam` with the same code (tests/test_lesson_sources.py keeps the two the same). The recipe: take the
feature maps of the last convolution, weigh each map by how much the class score rises when that map rises (the
gradient, averaged over the map), add them up, keep the positive part, and scale it to the image size.
Public Keras 3 API and ``tf.GradientTape`` only, so it needs the TensorFlow backend. Under mixed precision
(``mixed_float16``) the feature maps and their gradients are float16: they are cast to float32 before they are
combined, so the maps are computed in float32 whatever the model computes in.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def last_conv_layer_name(model):
    """The name of the model's last ``Conv2D`` layer: its feature maps are the ones Grad-CAM weighs.

    The layers are searched from the output backwards. A model whose last convolutions sit inside a nested model
    (a pretrained base used as one layer) raises a ``ValueError`` that says how to build it instead; a model
    without any ``Conv2D`` raises one too.
    """
    for layer in reversed(model.layers):
        if isinstance(layer, keras.layers.Conv2D):
            return layer.name
        if isinstance(layer, keras.Model) and any(isinstance(inner, keras.layers.Conv2D) for inner in layer.layers):
            raise ValueError(f"the last convolutions of {model.name!r} sit inside the nested model {layer.name!r}; "
                             "build the classifier on that model's own input and output instead, "
                             "keras.Model(base.input, head(base.output)), so that its layers are the model's")
    raise ValueError(f"model {model.name!r} has no Conv2D layer for Grad-CAM to read")


def without_softmax(model):
    """A copy of ``model`` with the same weights whose last layer outputs the class scores before the softmax.

    For models that end in ``Dense(..., activation="softmax")`` (or an ``Activation("softmax")`` layer): the copy
    returns the logits. The copy does not follow later changes to the model's weights: make a new one after
    training. A model that ends in a ``keras.layers.Softmax`` layer is not handled. The last layer keeps its dtype
    policy: a softmax layer that computes in float32 under mixed precision gives float32 logits.
    """
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    copy.layers[-1].activation = keras.activations.linear
    return copy


def grad_cam(model, images, class_index=None, layer_name=None):
    """Grad-CAM heat maps in [0, 1], one per image, for ``class_index`` (default: each image's predicted class).

    ``model`` outputs class scores before the softmax (see :func:`without_softmax`); ``images`` is a batch
    ``(N, H, W, C)`` prepared as the model takes it (float, scaled like the training images). ``class_index`` is
    one class for all images or one per image; ``layer_name`` the layer whose feature maps are weighed (default:
    the last ``Conv2D``). Returns a float32 array ``(N, H, W)``; an all-zero map means no feature map argued for
    the class.
    """
    if getattr(model.layers[-1], "activation", None) is keras.activations.softmax:
        raise ValueError("Grad-CAM differentiates the class scores before the softmax (a softmax that is sure "
                         "passes no gradient back): pass without_softmax(model)")
    num_classes = model.outputs[0].shape[-1]
    if class_index is not None and not 0 <= np.min(class_index) <= np.max(class_index) < num_classes:
        raise ValueError(f"class_index {class_index} is not a class of a model with {num_classes} classes")
    feature_layer = model.get_layer(layer_name or last_conv_layer_name(model))
    if len(feature_layer.output.shape) != 4:
        raise ValueError(f"layer {feature_layer.name!r} outputs {feature_layer.output.shape}; Grad-CAM needs "
                         "feature maps (batch, height, width, channels)")
    grad_model = keras.Model(model.inputs, [feature_layer.output, model.outputs[0]])

    images = tf.convert_to_tensor(images, dtype=tf.float32)
    with tf.GradientTape() as tape:
        feature_maps, scores = grad_model([images], training=False)  # (N, h, w, channels), (N, classes)
        scores = tf.cast(scores, tf.float32)  # float16 where the last layer computes in float16
        if class_index is None:
            class_index = tf.argmax(scores, axis=-1)
        class_score = tf.reduce_sum(scores * tf.one_hot(class_index, num_classes), axis=-1)
    grads = tape.gradient(class_score, feature_maps)  # how the score moves with each cell of each map
    grads, feature_maps = tf.cast(grads, tf.float32), tf.cast(feature_maps, tf.float32)  # float16: mixed precision
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)  # one weight per feature map
    cam = tf.reduce_sum(weights * feature_maps, axis=-1)  # the weighted sum of the maps: (N, h, w)
    cam = tf.nn.relu(cam)  # keep what argues for the class
    cam = tf.image.resize(cam[..., None], images.shape[1:3])[..., 0]  # to the image's size
    cam = tf.math.divide_no_nan(cam, tf.reduce_max(cam, axis=(1, 2), keepdims=True))  # the peak at 1
    return cam.numpy()

