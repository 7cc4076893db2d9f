"""Grad-CAM: which parts of an image made a CNN choose its class (Selvaraju et al., 2017).

Taught in notebook 06. The recipe: take the feature maps of the last convolution, weigh each map by how much
the class score rises when that map rises (the gradient, averaged over the map), add them up, keep the
positive part, and scale it to the image size. Works with Keras 3 functional models on the TensorFlow backend.
"""
from __future__ import annotations

import numpy as np

CONV_TYPES = ("Conv2D", "SeparableConv2D", "DepthwiseConv2D")


def _is_conv(layer) -> bool:
    import keras

    return isinstance(layer, tuple(getattr(keras.layers, name) for name in CONV_TYPES))


def _has_conv(model) -> bool:
    return any(_is_conv(inner) or (hasattr(inner, "layers") and _has_conv(inner)) for inner in model.layers)


def _output_rank(layer) -> int | None:
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError):
        return None


FOLLOWERS = ("BatchNormalization", "ReLU", "Activation", "LeakyReLU", "ELU", "PReLU")


def last_conv_layer(model):
    """The layer Grad-CAM reads by default: the model's last 2-D convolution.

    When a BatchNormalization and/or an activation layer directly follow that convolution, the last of them is
    used (the feature maps as the rest of the network sees them). When the convolutions sit inside a nested
    model (a pretrained base used as one layer, as in transfer learning), that nested model's output (its last
    feature maps) is used.
    """
    import keras

    layers = model.layers
    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        if _is_conv(layer):
            chosen = layer
            for follower in layers[i + 1:]:
                if (type(follower).__name__ in FOLLOWERS and _output_rank(follower) == 4
                        and _inputs_of(follower) == [id(chosen)]):
                    chosen = follower
                else:
                    break
            return chosen
        if isinstance(layer, keras.Model) and _output_rank(layer) == 4 and _has_conv(layer):
            return layer
    raise ValueError(f"model {model.name!r} has no Conv2D layer (nor a nested convolutional model) for "
                     "Grad-CAM; pass layer_name= a layer with (batch, height, width, channels) output")


def _inputs_of(layer) -> list[int]:
    """ids of the layers feeding ``layer`` (its first call)."""
    nodes = getattr(layer, "_inbound_nodes", [])
    if not nodes:
        return []
    return [id(t._keras_history[0]) for t in nodes[0].input_tensors]


def _layer_output(model, layer):
    """The layer's output tensor in ``model``'s graph (a nested model's ``.output`` is its inner tensor)."""
    nodes = getattr(model, "_nodes", set())  # Keras 3 keys graph nodes as "<id(layer)>_ib-<node index>"
    for index, node in reversed(list(enumerate(getattr(layer, "_inbound_nodes", [])))):
        if f"{id(layer)}_ib-{index}" in nodes and len(node.output_tensors) == 1:
            return node.output_tensors[0]
    return layer.output


def _score_tensors(model):
    """The tensor to differentiate: the last layer's logits when it is a softmax, else the model's output.

    Gradients through a saturated softmax (a probability of 1.0 in float32) are zero; logits are not.
    Returns ``(tensor, head)``: ``head`` turns the tensor into logits (None: use it as it is).
    """
    import keras

    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    if isinstance(last, keras.layers.Dense) and activation is keras.activations.softmax:
        return last.input, last
    if isinstance(last, keras.layers.Softmax) or (
            isinstance(last, keras.layers.Activation) and activation is keras.activations.softmax):
        return last.input, None
    return model.output, None


def _prepare(model, image) -> tuple[np.ndarray, bool]:
    """``(batch, single)``: a float32 batch ``(N, H, W, C)`` as the model takes it, and whether one image came in.

    Accepts one image or a batch, with or without the channel axis of grey images; uint8 is scaled to [0, 1].
    """
    x = np.asarray(image)
    if x.dtype == np.uint8:
        x = x.astype("float32") / 255.0
    x = x.astype("float32")
    expected = tuple(model.input_shape[1:])
    grey = expected[-1] == 1

    def fits(shape, want):
        return len(shape) == len(want) and all(w is None or s == w for s, w in zip(shape, want))

    if fits(x.shape, expected):
        return x[None], True
    if grey and fits(x.shape, expected[:-1]):
        return x[None, ..., None], True
    if fits(x.shape[1:], expected):
        return x, False
    if grey and fits(x.shape[1:], expected[:-1]):
        return x[..., None], False
    raise ValueError(f"image of shape {np.shape(image)} does not fit the model's input {model.input_shape}")


def grad_cam(model, image, class_index=None, layer_name: str | None = None) -> np.ndarray:
    """Grad-CAM heat map of ``image`` for ``class_index`` (default: the predicted class).

    ``image``: one image ``(H, W[, C])`` or a batch ``(N, H, W, C)``, as the model takes it (uint8 images are
    scaled to [0, 1] like the training data). ``layer_name``: the convolution to read (default: the last one).
    Returns an array in [0, 1] of the input's spatial size: ``(H, W)`` for one image, ``(N, H, W)`` for a batch
    (``class_index`` may then be one index per image). An all-zero map means no feature map argued for the class.
    """
    import keras
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(f"grad_cam uses tf.GradientTape and needs the TensorFlow backend, "
                           f"not {keras.backend.backend()!r} (set KERAS_BACKEND=tensorflow)")
    x, single = _prepare(model, image)
    if layer_name is None:
        layer = last_conv_layer(model)
    else:
        try:
            layer = model.get_layer(layer_name)
        except ValueError:
            names = [lay.name for lay in model.layers if _output_rank(lay) == 4]
            raise ValueError(f"model {model.name!r} has no layer {layer_name!r}; layers with feature maps: "
                             f"{names}") from None
        if _output_rank(layer) != 4:
            raise ValueError(f"layer {layer_name!r} outputs shape {tuple(layer.output.shape)}; Grad-CAM needs "
                             "feature maps (batch, height, width, channels)")

    score_tensor, head = _score_tensors(model)
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    grad_model = keras.Model(inputs, [_layer_output(model, layer), score_tensor])
    with tf.GradientTape() as tape:
        features, scores = grad_model(tf.constant(x), training=False)
        if head is not None:
            scores = tf.matmul(scores, head.kernel) + (head.bias if head.use_bias else 0.0)
        num_classes = scores.shape[-1]
        if class_index is None:
            chosen = tf.argmax(scores, axis=-1, output_type=tf.int32)
        else:
            chosen_np = np.broadcast_to(np.asarray(class_index, dtype="int32"), (x.shape[0],))
            if chosen_np.min() < 0 or chosen_np.max() >= num_classes:
                raise ValueError(f"class_index {class_index} out of range for {num_classes} classes")
            chosen = tf.constant(chosen_np)
        score = tf.gather(scores, chosen, axis=1, batch_dims=1)
    grads = tape.gradient(score, features)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)  # one weight per feature map
    cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))[..., None]
    cam = tf.image.resize(cam, x.shape[1:3], method="bilinear")[..., 0].numpy()
    peak = cam.reshape(len(cam), -1).max(axis=1).reshape(-1, 1, 1)
    cam = np.where(peak > 0, cam / np.where(peak > 0, peak, 1.0), 0.0).clip(0.0, 1.0).astype("float32")
    return cam[0] if single else cam


def overlay(image, heatmap, alpha: float = 0.45, cmap: str = "jet") -> np.ndarray:
    """The image in grey or colour with the heat map laid over it: an RGB float array in [0, 1]."""
    import matplotlib

    img = np.asarray(image, dtype="float32")
    if img.ndim == 4:
        img = img[0]
    if np.asarray(image).dtype == np.uint8 or img.max() > 1.0:
        img = img / 255.0
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    heat = np.asarray(heatmap, dtype="float32")
    if heat.shape != img.shape[:2]:
        raise ValueError(f"heat map {heat.shape} and image {img.shape[:2]} differ in size")
    colored = matplotlib.colormaps[cmap](heat)[..., :3]
    return np.clip((1 - alpha) * img + alpha * colored, 0.0, 1.0)
