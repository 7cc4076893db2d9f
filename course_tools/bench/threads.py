"""Does a TensorFlow thread setting make training faster on this CPU? (issue 15, item 3)

    python course.py bench threads                                       # = make bench PART=threads (CIFAR-10)
    COURSE_BENCH_DATASETS=fashion_mnist python course.py bench threads   # another data set's course_fast
    COURSE_BENCH_THREADS_IMAGES=20480 COURSE_BENCH_THREADS_REPEATS=3 python course.py bench threads

Each setting is a pair of thread counts, intra-op (the threads one operation, a convolution, splits into) and
inter-op (how many operations run at once), given to ``tf.config.threading``; 0 is TensorFlow's default. TensorFlow
fixes its thread pools when it starts, so every measurement runs in a Python process of its own: it trains the
data set's ``course_fast`` recipe for three epochs on the first images of the training split and times each epoch.
The first epoch includes tracing, so the rate comes from the others. The settings take turns, repeat after repeat,
so that a slow spell of the host falls on all of them. Writes ``build/bench/threads.json``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from course_tools.bench import env_int

#: (intra-op, inter-op) thread counts; (0, 0) is TensorFlow's default (its own choice from the core count)
SETTINGS = ((0, 0), (1, 1), (2, 1), (1, 2), (2, 2))
EPOCHS = 3


def epoch_seconds(dataset: str, intra: int, inter: int, images: int, epochs: int = EPOCHS) -> list[float]:
    """The seconds of each epoch of ``course_fast`` on ``images`` training images under these thread counts.

    Call it in a fresh process: TensorFlow takes thread settings only before it runs its first operation.
    """
    import tensorflow as tf

    if intra:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
    if inter:
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    import keras

    from course_utils import config, data, train

    config.set_precision("float32")  # the recipe sets its own (bfloat16 where native)
    ds = data.load_dataset(dataset)
    seconds: list[float] = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)

    recipe = train.get_recipe(dataset, "course_fast")
    train.fit_recipe(recipe, ds.x_train[:images], ds.y_train[:images], ds.x_test[:512], ds.y_test[:512],
                     ds.num_classes, epochs=epochs, verbose=0, callbacks=[EpochTimer()])
    return seconds


def _measure_in_new_process(dataset: str, intra: int, inter: int, images: int) -> list[float]:
    command = [sys.executable, "-m", "course_tools.bench.threads", "--one", dataset, str(intra), str(inter),
               str(images)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"thread setting intra={intra} inter={inter} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(out_dir, measure=_measure_in_new_process) -> list[dict]:
    """Each setting ``COURSE_BENCH_THREADS_REPEATS`` times (default 2), in turns; one row per measurement."""
    from course_tools.bench.recipes import selected_datasets

    datasets = selected_datasets() if os.environ.get("COURSE_BENCH_DATASETS", "").strip() else ["cifar10"]
    images = env_int("COURSE_BENCH_THREADS_IMAGES", 10240)
    repeats = env_int("COURSE_BENCH_THREADS_REPEATS", 2)
    rows = []
    for dataset in datasets:
        for repeat in range(repeats):
            for intra, inter in SETTINGS:
                seconds = measure(dataset, intra, inter, images)
                later = seconds[1:] or seconds
                rows.append({"dataset": dataset, "recipe": "course_fast", "intra_op": intra, "inter_op": inter,
                             "repeat": repeat + 1, "images": images, "epoch_seconds": [round(s, 2) for s in seconds],
                             "images_per_second": round(images * len(later) / sum(later), 1)})
                print(f"[bench threads] {dataset} intra={intra} inter={inter} (repeat {repeat + 1}): epochs "
                      f"{', '.join(f'{s:.1f}' for s in seconds)} s -> {rows[-1]['images_per_second']:.0f} images/s",
                      flush=True)
                Path(out_dir, "threads.json").write_text(json.dumps(rows, indent=1) + "\n")
    return rows


if __name__ == "__main__" and sys.argv[1:2] == ["--one"]:
    _, _, name, intra_op, inter_op, count = sys.argv
    print(json.dumps(epoch_seconds(name, int(intra_op), int(inter_op), int(count))))
