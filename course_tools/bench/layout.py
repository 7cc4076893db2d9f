"""Does the data layout make training faster on this CPU? (issue 15, item 3)

    python course.py bench layout                                   # = make bench PART=layout
    COURSE_BENCH_LAYOUT_STEPS=30 COURSE_BENCH_LAYOUT_REPEATS=5 python course.py bench layout

Keras stores images channels last, (N, H, W, C), the layout TensorFlow's CPU kernels are written for; GPUs (cuDNN)
often prefer channels first, (N, C, H, W). This part trains CIFAR-10's ``course_fast`` model both ways: the
channels-first model is the same ``fast_cnn`` with every layer's ``data_format`` switched and BatchNorm's axis moved
to the channels, holding the same weights (:func:`channels_first_copy`; a test checks both predict the same). It
times training steps on one batch of random images, so no input pipeline runs and the layout is all that differs,
in float32 and, where the CPU has it natively, in bfloat16. The layouts take turns, repeat after repeat, so that a
slow spell of the host falls on both. Writes ``build/bench/layout.json``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from course_tools.bench import env_int

LAYOUTS = ("channels_last", "channels_first")
WARMUP_STEPS = 3  # the first steps trace the training function


def channels_first_copy(model):
    """The same model computing on channels-first images: each layer's ``data_format`` and BatchNorm's ``axis``
    switched, the input shape permuted, the weights copied (a convolution's kernel is stored the same either way)."""
    import keras

    config = model.get_config()
    for layer in config["layers"]:
        layer.pop("build_config", None)  # the channels-last input shapes: each layer is rebuilt from the graph
        settings = layer["config"]
        if "data_format" in settings:
            settings["data_format"] = "channels_first"
        if layer["class_name"] == "BatchNormalization":
            settings["axis"] = 1
        if layer["class_name"] == "InputLayer":
            batch, height, width, channels = settings["batch_shape"]
            settings["batch_shape"] = [batch, channels, height, width]
    copy = keras.Model.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def precisions() -> list[str]:
    from course_utils import config

    return ["float32"] + (["mixed_bfloat16"] if config.bfloat16_is_fast() else [])


def build_models(precision: str, widths=(64, 128, 256), image_shape=(32, 32, 3), num_classes: int = 10) -> dict:
    """``fast_cnn`` in ``precision``, compiled, in both layouts (the global dtype policy is restored)."""
    import keras

    from course_utils import models

    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        last = models.fast_cnn(image_shape, num_classes, widths=widths)
        built = {"channels_last": last, "channels_first": channels_first_copy(last)}
        for model in built.values():
            model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.85, nesterov=True),
                          loss="sparse_categorical_crossentropy")
    finally:
        keras.mixed_precision.set_global_policy(policy)
    return built


def images_per_second(model, images, labels, steps: int) -> float:
    """Training images per second over ``steps`` steps of ``train_on_batch`` (after the warm-up steps)."""
    for _ in range(WARMUP_STEPS):
        model.train_on_batch(images, labels)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(images, labels)
    return steps * len(images) / (time.perf_counter() - start)


def run(out_dir) -> list[dict]:
    """Each layout in each precision, ``COURSE_BENCH_LAYOUT_REPEATS`` times (default 3), in turns."""
    import numpy as np

    from course_utils import train

    steps = env_int("COURSE_BENCH_LAYOUT_STEPS", 15)
    repeats = env_int("COURSE_BENCH_LAYOUT_REPEATS", 3)
    batch_size = env_int("COURSE_BENCH_LAYOUT_BATCH", 256)
    widths = tuple(train.get_recipe("cifar10", "course_fast").build_kwargs["widths"])
    rng = np.random.default_rng(0)
    images = rng.random((batch_size, 32, 32, 3), dtype=np.float32)
    batches = {"channels_last": images, "channels_first": np.ascontiguousarray(images.transpose(0, 3, 1, 2))}
    labels = rng.integers(0, 10, batch_size)
    rows = []
    for precision in precisions():
        built = build_models(precision, widths)
        for repeat in range(repeats):
            for layout in LAYOUTS:
                rate = images_per_second(built[layout], batches[layout], labels, steps)
                rows.append({"dataset": "cifar10", "model": "fast_cnn", "widths": list(widths), "layout": layout,
                             "precision": precision, "repeat": repeat + 1, "batch_size": batch_size, "steps": steps,
                             "images_per_second": round(rate, 1)})
                print(f"[bench layout] {precision} {layout} (repeat {repeat + 1}): {rate:.0f} images/s", flush=True)
                Path(out_dir, "layout.json").write_text(json.dumps(rows, indent=1) + "\n")
    return rows
