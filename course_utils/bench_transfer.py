"""``make bench`` part ``transfer``: what pretrained features buy on CIFAR-10 (notebook 07's claims, measured).

    python course.py bench transfer      # writes build/bench/transfer.json

1. Full CIFAR-10 through the MobileNet v1 (alpha 0.25) ImageNet backbone at 128 px: test accuracy and wall time
   of feature extraction (features computed once, head trained on them) and of fine-tuning (1-2 epochs),
   against the reference CIFAR CNN (about 66-70% trained from scratch on all images).
2. 100 labelled images per class: transfer (feature extraction, then fine-tuning) vs from scratch, same epochs.
3. The bare-offline path: a backbone the course pretrains on CIFAR classes 0-4, moved to classes 5-9
   (100 images per class), vs from scratch; and the ImageNet backbone on the same task for comparison.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from . import config, data, transfer

SIZE = 128
REFERENCE_CNN = 0.66  # the reference CIFAR CNN trained from scratch on all 50,000 images (bench recipes)


def _split_val(x, y, n_val: int, seed: int):
    from sklearn.model_selection import train_test_split

    x_tr, x_val, y_tr, y_val = train_test_split(x, y, test_size=n_val, stratify=y, random_state=seed)
    return (x_tr, y_tr), (x_val, y_val)


def _classes(x, y, classes):
    keep = np.isin(y, classes)
    return x[keep], np.searchsorted(np.asarray(classes), y[keep]).astype("int64")


def run(out_dir, seed: int = config.DEFAULT_SEED, full_epochs: int = 2, small_head_epochs: int = 20,
        small_ft_epochs: int = 10, pretrain_epochs: int = 8) -> list[dict]:
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
    test = (ds.x_test, ds.y_test.astype("int64"))
    bb = transfer.choose_backbone(("mobilenet_v1_0.25",), SIZE, allow_download=False)

    # 1. all 50,000 images (45,000 train + 5,000 validation)
    train, val = _split_val(ds.x_train, ds.y_train.astype("int64"), 5_000, seed)
    model, base, fe = transfer.feature_extraction(bb, train, val, test, 10, epochs=15, batch_size=256, seed=seed,
                                                  verbose=2)
    record({"experiment": "full CIFAR-10", "backbone": bb.name, "source": bb.source, "input_size": SIZE,
            "method": "feature extraction", "train_images": len(train[1]), "epochs": 15,
            "test_accuracy": fe["test_accuracy"], "seconds": fe["seconds"]})
    ft = transfer.fine_tune(model, base, train, val, test, epochs=full_epochs, lr=1e-4, from_layer=None,
                            batch_size=64, seed=seed, verbose=2)
    record({"experiment": "full CIFAR-10", "backbone": bb.name, "source": bb.source, "input_size": SIZE,
            "method": "fine-tuning (all layers, BN frozen, lr 1e-4)", "train_images": len(train[1]),
            "epochs": full_epochs, "test_accuracy": ft["test_accuracy"], "seconds": ft["seconds"],
            "reference_cnn": REFERENCE_CNN, "beats_reference": ft["test_accuracy"] > REFERENCE_CNN})
    del model, base

    # 2. 100 labelled images per class, all 10 classes
    small_val = transfer.per_class_subset(*val, 100, seed=seed)
    for row in transfer.compare_by_size(bb, train, small_val, test, 10, [100], small_head_epochs, small_ft_epochs,
                                        ft_lr=1e-4, seed=seed, progress=False):
        record({"experiment": "100 per class, 10 classes", "backbone": bb.name, "source": bb.source, **row})

    # 3. bare offline: pretrain on classes 0-4, transfer to classes 5-9
    src_x, src_y = _classes(ds.x_train, ds.y_train, [0, 1, 2, 3, 4])
    tgt_train = _classes(*train, [5, 6, 7, 8, 9])
    tgt_val = transfer.per_class_subset(*_classes(*val, [5, 6, 7, 8, 9]), 100, seed=seed)
    tgt_test = _classes(*test, [5, 6, 7, 8, 9])
    start = time.perf_counter()
    course_bb = transfer.course_backbone(src_x, src_y, 32, pretrain_epochs, seed=seed)
    pretrain_seconds = time.perf_counter() - start
    for which, backbone in (("course-pretrained", course_bb), ("imagenet", bb)):
        for row in transfer.compare_by_size(backbone, tgt_train, tgt_val, tgt_test, 5, [100], small_head_epochs,
                                            small_ft_epochs, ft_lr=1e-4, seed=seed, progress=False):
            extra = {"pretrain_seconds": pretrain_seconds, "pretrain_images": len(src_y)} \
                if which == "course-pretrained" else {}
            record({"experiment": "100 per class, CIFAR classes 5-9", "backbone": backbone.name,
                    "source": backbone.source, **row, **extra})
    return rows
