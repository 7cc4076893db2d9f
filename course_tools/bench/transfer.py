"""``make bench`` part ``transfer``: what pretrained features buy on CIFAR-10 (notebook 07's recipe, measured).

    python course.py bench transfer      # writes build/bench/transfer.json

Every model here is built and trained by notebook 07's own functions (``transfer.pretrained_base``,
``build_transfer_model``, ``compile_and_fit``, ``unfreeze_top``, ``compare_by_size``: the same code as the
notebook's cells), on images fed through the frozen backbone at every step, as in the notebook. The weights come
from ``backbones.choose_weights`` (the checksummed ImageNet file), the data through ``pipeline.make_dataset`` and
``data.stratified_subset``.

1. Full CIFAR-10 through the MobileNet v1 (alpha 0.25) ImageNet backbone at 128 px: test accuracy and wall time
   of feature extraction (a few epochs: 45,000 images at 128 px are slow on a CPU) and of fine-tuning the whole
   backbone (batch norm frozen), against the reference CIFAR CNN (about 66-70% trained from scratch on all images).
2. 100 labelled images per class: transfer (feature extraction, then fine-tuning) vs from scratch, same epochs.
3. The bare-offline path: MobileNet weights the course trains on CIFAR classes 0-4 (``backbones.pretrain_weights``,
   as notebook 07 does without ImageNet weights), moved to classes 5-9 (100 images per class), vs from scratch;
   and the ImageNet weights on the same task for comparison.
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from course_utils import backbones, config, data, pipeline, transfer

SIZE = 128
REFERENCE_CNN = 0.66  # the reference CIFAR CNN trained from scratch on all 50,000 images (bench recipes)
FINE_TUNE_LAYERS = 25  # notebook 07's default: MobileNet's last four blocks
HEAD_LR, FT_LR = 3e-3, 1e-4  # notebook 07's learning rates


def _split_val(x, y, n_val: int, seed: int):
    from sklearn.model_selection import train_test_split

    x_tr, x_val, y_tr, y_val = train_test_split(x, y, test_size=n_val, stratify=y, random_state=seed)
    return (x_tr, y_tr), (x_val, y_val)


def _classes(x, y, classes):
    keep = np.isin(y, classes)
    return x[keep], np.searchsorted(np.asarray(classes), y[keep]).astype("int64")


def _dataset(x, y, batch_size: int = 64, training: bool = False, seed: int = config.DEFAULT_SEED):
    """The course's pipeline (``pipeline.make_dataset``, pixels in [0, 1]) scaled back to the [0, 255] that
    notebook 07's models take (what its folders give); not cached: 45,000 float images would fill the memory."""
    dataset = pipeline.make_dataset(x, np.asarray(y, dtype="int64"), batch_size, training=training, seed=seed,
                                    cache=False)
    return dataset.map(lambda images, labels: (images * 255.0, labels))


def _per_class(x, y, n: int, seed: int):
    """``n`` images of each class (``data.stratified_subset``), as float pixels in [0, 255]."""
    x, y = data.stratified_subset(x, y, n * len(np.unique(y)), seed=seed)
    return x.astype("float32"), y


def run(out_dir, seed: int = config.DEFAULT_SEED, full_head_epochs: int = 3, full_ft_epochs: int = 2,
        small_head_epochs: int = 20, small_ft_epochs: int = 10, pretrain_epochs: int = 8, size: int = SIZE,
        per_class: int = 100, weights_dir=None) -> list[dict]:
    """Run the three experiments; every row is also written to ``<out_dir>/transfer.json`` as it comes."""
    import keras

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "transfer.json"
    rows: list[dict] = []

    def record(row):
        row = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}
        rows.append(row)
        print("[bench transfer]", json.dumps(row), flush=True)
        out.write_text(json.dumps(rows, indent=1) + "\n")

    config.set_seed(seed)
    ds = data.load_dataset("cifar10", download_ok=False)
    x_test, y_test = ds.x_test, ds.y_test.astype("int64")
    test_ds = _dataset(x_test, y_test, 256)
    weights = backbones.choose_weights(weights_dir=weights_dir, allow_download=False)
    shape = ds.x_train.shape[1:]

    # 1. all 50,000 images (45,000 train + 5,000 validation)
    train, val = _split_val(ds.x_train, ds.y_train.astype("int64"), min(5_000, len(ds.y_train) // 10), seed)
    train_ds, val_ds = _dataset(*train, training=True, seed=seed), _dataset(*val, 256)
    keras.utils.set_random_seed(seed)
    base = transfer.pretrained_base(weights.path, size)
    model = transfer.build_transfer_model(base, 10, shape)
    start = time.perf_counter()
    transfer.compile_and_fit(model, train_ds, val_ds, full_head_epochs, lr=HEAD_LR)
    fe_seconds = time.perf_counter() - start
    common = {"experiment": "full CIFAR-10", "backbone": "mobilenet_v1_0.25", "source": weights.source,
              "input_size": size, "train_images": len(train[1])}
    record({**common, "method": "feature extraction", "epochs": full_head_epochs,
            "test_accuracy": model.evaluate(test_ds, verbose=0, return_dict=True)["accuracy"], "seconds": fe_seconds})
    transfer.unfreeze_top(base, len(base.layers))
    start = time.perf_counter()
    transfer.compile_and_fit(model, train_ds, val_ds, full_head_epochs + full_ft_epochs, lr=FT_LR,
                             initial_epoch=full_head_epochs)
    ft_seconds = time.perf_counter() - start
    ft_accuracy = model.evaluate(test_ds, verbose=0, return_dict=True)["accuracy"]
    record({**common, "method": f"fine-tuning (all layers, BN frozen, lr {FT_LR:g})", "epochs": full_ft_epochs,
            "test_accuracy": ft_accuracy, "seconds": ft_seconds, "reference_cnn": REFERENCE_CNN,
            "beats_reference": ft_accuracy > REFERENCE_CNN})
    del model, base

    # 2. 100 labelled images per class, all 10 classes
    small = _per_class(*train, per_class, seed)
    for row in transfer.compare_by_size(weights.path, small, test_ds, 10, [per_class], size, small_head_epochs,
                                        small_ft_epochs, FINE_TUNE_LAYERS, head_lr=HEAD_LR, ft_lr=FT_LR, seed=seed):
        record({"experiment": f"{per_class} per class, 10 classes", "backbone": "mobilenet_v1_0.25",
                "source": weights.source, **row})

    # 3. bare offline: pretrain on classes 0-4, transfer to classes 5-9
    src_x, src_y = _classes(ds.x_train, ds.y_train, [0, 1, 2, 3, 4])
    tgt_train = _per_class(*_classes(*train, [5, 6, 7, 8, 9]), per_class, seed)
    tgt_test = _dataset(*_classes(x_test, y_test, [5, 6, 7, 8, 9]), 256)
    start = time.perf_counter()
    course_weights = backbones.pretrain_weights(src_x, src_y, Path(tempfile.mkdtemp()) / "course.weights.h5", size,
                                                pretrain_epochs, seed=seed)
    pretrain_seconds = time.perf_counter() - start
    for source, path in (("course-pretrained", course_weights), (weights.source, weights.path)):
        for row in transfer.compare_by_size(str(path), tgt_train, tgt_test, 5, [per_class], size, small_head_epochs,
                                            small_ft_epochs, FINE_TUNE_LAYERS, head_lr=HEAD_LR, ft_lr=FT_LR,
                                            seed=seed):
            extra = {"pretrain_seconds": pretrain_seconds, "pretrain_images": len(src_y)} \
                if source == "course-pretrained" else {}
            record({"experiment": f"{per_class} per class, CIFAR classes 5-9", "backbone": "mobilenet_v1_0.25",
                    "source": source, **row, **extra})
    return rows
