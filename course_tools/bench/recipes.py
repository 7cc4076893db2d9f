"""``make bench`` part ``recipes``: the reference recipes against the course's, on the same data, timed.

    python course.py bench recipes
    COURSE_BENCH_DATASETS=fashion_mnist python course.py bench recipes    # one data set only
    COURSE_BENCH_RECIPES=course python course.py bench recipes            # the reference and these recipes only
    COURSE_BENCH_CURVE=1 python course.py bench recipes                   # also test accuracy after every epoch

Trains every recipe of :data:`course_utils.train.RECIPES` for the chosen data sets, evaluates on the
official test split (never used for any choice: validation comes from the training split), prints a
table (accuracy, training wall time, ratio to the reference's time) and writes ``recipes.json``.
Rows of data sets not run this time are kept from an earlier ``recipes.json``; rows of a data set are all
from one run, and the reference always runs with the others, so every time ratio compares two runs made side
by side.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from course_utils import config, data, train

DATASETS = ("fashion_mnist", "cifar10")
TARGETS = {  # (dataset, recipe): (min test accuracy, max time ratio to the reference)
    ("fashion_mnist", "reference"): (0.905, None),
    ("fashion_mnist", "course"): (0.920, 1.0),
    ("fashion_mnist", "course_long"): (0.935, 5.0),
    ("cifar10", "reference"): (0.64, None),
    ("cifar10", "course"): (0.85, 900.0),  # absolute: 15 minutes of training
}


def selected_datasets() -> list[str]:
    wanted = [d.strip() for d in os.environ.get("COURSE_BENCH_DATASETS", "").split(",") if d.strip()]
    unknown = [d for d in wanted if d not in DATASETS]
    if unknown:
        raise ValueError(f"COURSE_BENCH_DATASETS: unknown data set(s) {unknown}; choose from {DATASETS}")
    return wanted or list(DATASETS)


def selected_recipes() -> list[str]:
    """``COURSE_BENCH_RECIPES`` (comma-separated), always with the reference; default: every recipe."""
    known = sorted({r for _, r in train.RECIPES})
    wanted = [r.strip() for r in os.environ.get("COURSE_BENCH_RECIPES", "").split(",") if r.strip()]
    unknown = [r for r in wanted if r not in known]
    if unknown:
        raise ValueError(f"COURSE_BENCH_RECIPES: unknown recipe(s) {unknown}; choose from {known}")
    return ["reference", *[r for r in known if r in wanted and r != "reference"]] if wanted else known


def wants_curve() -> bool:
    """``COURSE_BENCH_CURVE=1``: record test accuracy after every epoch (an accuracy–time curve per recipe)."""
    return os.environ.get("COURSE_BENCH_CURVE", "").strip() not in ("", "0")


def _verdict(row: dict, ref_seconds: float | None) -> str:
    min_acc, max_ratio = TARGETS.get((row["dataset"], row["recipe"]), (None, None))
    ok = min_acc is None or row["test_accuracy"] >= min_acc
    if max_ratio is not None:
        if row["dataset"] == "cifar10":
            ok = ok and row["wall_seconds"] <= max_ratio
        elif ref_seconds:
            ok = ok and row["wall_seconds"] <= max_ratio * ref_seconds
    return "ok" if ok else "MISSED"


def format_table(rows: list[dict]) -> str:
    lines = [f"{'dataset':<14} {'recipe':<12} {'test acc':>8} {'train s':>8} {'x ref':>6} {'epochs':>6}  target"]
    ref = {r["dataset"]: r["wall_seconds"] for r in rows if r["recipe"] == "reference"}
    for r in rows:
        ratio = r["wall_seconds"] / ref[r["dataset"]] if ref.get(r["dataset"]) else float("nan")
        min_acc, max_ratio = TARGETS.get((r["dataset"], r["recipe"]), (None, None))
        target = f">= {min_acc:.1%}" if min_acc else ""
        if max_ratio:
            target += f", <= {max_ratio:.0f} s" if r["dataset"] == "cifar10" else f", <= {max_ratio:g}x ref time"
        lines.append(f"{r['dataset']:<14} {r['recipe']:<12} {r['test_accuracy']:>8.2%} {r['wall_seconds']:>8.0f} "
                     f"{ratio:>6.2f} {r.get('epochs', ''):>6}  {target} [{_verdict(r, ref.get(r['dataset']))}]")
    return "\n".join(lines)


def run(out_dir, datasets: list[str] | None = None, epochs: int | None = None, subset: int | None = None) -> list[dict]:
    """Train and time every recipe on each data set; ``epochs``/``subset`` shrink it (tests, trials)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    datasets = datasets or selected_datasets()
    recipes = selected_recipes()
    config.set_precision(config.default_precision())  # as a Run does: mixed_float16 on a GPU, else float32
    rows = []
    for name in datasets:
        ds = data.load_dataset(name)
        if subset:
            ds = data.subset_dataset(ds, subset, subset)
        print(f"[recipes] {ds.summary()}", flush=True)
        for (dname, rname), recipe in train.RECIPES.items():
            if dname != name or rname not in recipes:
                continue
            config.set_seed(42)
            print(f"[recipes] {name} / {rname}: training", flush=True)
            curve = train.TestCurve(ds.x_test, ds.y_test, recipe.flip_tta) if wants_curve() else None
            result = train.fit_recipe(recipe, ds.x_train, ds.y_train, ds.x_test, ds.y_test, ds.num_classes,
                                      epochs=epochs, work_dir=out_dir / "checkpoints", verbose=2,
                                      callbacks=[curve] if curve else ())
            row = result.row(name)
            if curve:  # the curve's own evaluations are not training time
                row["wall_seconds"] = round(result.wall_seconds - curve.eval_seconds, 1)
                row["curve"] = curve.rows
            print(f"[recipes] {name} / {rname}: test accuracy {row['test_accuracy']:.4f}, "
                  f"{row['wall_seconds']:.0f} s of training", flush=True)
            rows.append(row)
    path = out_dir / "recipes.json"
    if path.exists() and set(datasets) != set(DATASETS):
        kept = [r for r in json.loads(path.read_text()) if r.get("dataset") not in datasets]
        rows = kept + rows
    path.write_text(json.dumps(rows, indent=1) + "\n")
    print(format_table(rows), flush=True)
    for r in rows:
        if r.get("curve"):
            points = ", ".join(f"{c['train_seconds']:.0f} s {c['test_accuracy']:.1%}" for c in r["curve"])
            print(f"[recipes] curve {r['dataset']}/{r['recipe']} (after each epoch): {points}", flush=True)
    print(f"[recipes] wrote {path}", flush=True)
    return rows
