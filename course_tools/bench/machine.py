"""How close training gets to the machine's limit: its float32 matrix-multiply rate, and a model's counted FLOPs.

:func:`matmul_gflops` times TensorFlow's float32 matmul on square matrices (the best of a few repeats): the rate
convolutions and dense layers can reach at best on this machine. :func:`training_flops_per_image` counts a model's
multiply-adds from its layers' shapes (convolutions, depthwise convolutions, dense layers; 2 FLOPs per
multiply-add) and multiplies by 3 for training (the forward pass, plus about twice that for the gradients with
respect to activations and weights). Images per second times that count is the achieved rate; its ratio to the
matmul rate says how much of the machine a recipe uses.
"""
from __future__ import annotations

import time

#: training costs about three forward passes: forward, gradient w.r.t. inputs, gradient w.r.t. weights
TRAINING_PASSES = 3


def matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    """The best float32 matmul rate of ``repeats`` products of two ``size`` × ``size`` matrices, in GFLOP/s."""
    import tensorflow as tf

    a = tf.random.stateless_uniform((size, size), seed=(1, 2))
    b = tf.random.stateless_uniform((size, size), seed=(3, 4))
    product = tf.function(lambda x, y: tf.linalg.matmul(x, y))
    product(a, b).numpy()  # trace and warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        product(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def forward_flops_per_image(model) -> int:
    """FLOPs of one image's forward pass through the model's convolutions and dense layers (2 per multiply-add).

    Layers nested in sub-models are counted too. Element-wise work (activations, BatchNorm, pooling) is left out:
    it is a few percent of the total and does not run at matmul speed anyway.
    """
    import keras

    total = 0
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            h, w, channels = layer.output.shape[1:4]
            kh, kw = layer.kernel_size
            total += 2 * h * w * channels * kh * kw
        elif isinstance(layer, keras.layers.Conv2D):  # SeparableConv2D is not used in the course
            h, w, filters = layer.output.shape[1:4]
            kh, kw = layer.kernel_size
            total += 2 * h * w * filters * kh * kw * layer.input.shape[-1] // layer.groups
        elif isinstance(layer, keras.layers.Dense):
            inputs, units = layer.kernel.shape
            positions = 1
            for dim in layer.output.shape[1:-1]:
                positions *= dim
            total += 2 * inputs * units * positions
    return int(total)


def training_flops_per_image(model) -> int:
    return TRAINING_PASSES * forward_flops_per_image(model)


def achieved(model, images_per_second: float, machine_gflops: float) -> dict:
    """The training rate in GFLOP/s for ``images_per_second``, and its share of the machine's matmul rate."""
    gflops = training_flops_per_image(model) * images_per_second / 1e9
    return {"images_per_second": round(images_per_second, 1), "gflops_per_second": round(gflops, 1),
            "share_of_matmul": round(gflops / machine_gflops, 3) if machine_gflops else None}


def _all_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)
        else:
            yield layer
