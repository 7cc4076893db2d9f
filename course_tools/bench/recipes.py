"""``make bench`` part ``recipes``: the reference recipes against the course's, on the same data, timed.

    python course.py bench recipes
    COURSE_BENCH_DATASETS=fashion_mnist python course.py bench recipes    # one data set only
    COURSE_BENCH_RECIPES=course python course.py bench recipes            # the reference and these recipes only
    COURSE_BENCH_SEEDS=42,43,44 python course.py bench recipes            # one row per seed, mean and spread
    COURSE_BENCH_ONE_SEED=course,course_long python course.py bench recipes  # these recipes: the first seed only
    COURSE_BENCH_CURVE=1 python course.py bench recipes                   # validation accuracy after every epoch
    COURSE_BENCH_TEST=0 python course.py bench recipes                    # development: validation only

Trains every recipe of :data:`course_utils.train.RECIPES` for the chosen data sets. Honest development: a
validation split of :data:`VALIDATION_IMAGES` is carved from the training split (stratified, always the same
images, whatever the training seed), every recipe trains on the rest, and recipes are compared and chosen on it;
the official test split is scored once per trained model, at the end, and never decides anything
(``COURSE_BENCH_TEST=0`` leaves it unscored while recipes are being developed). Each row also says how fast
training ran: images per second and GFLOP/s from the model's counted FLOPs
(:mod:`course_tools.bench.machine`), beside the machine's float32 matmul rate measured at the start and at the
end of the run. Time ratios compare a recipe with the reference trained in the same run with the same seed (the
reference always runs), because absolute seconds swing 2x on a shared machine.

Prints a table (validation and test accuracy, training seconds, ratio to the reference, rates; with several
seeds also the mean ± standard deviation of each recipe) and writes ``recipes.json`` (one row per recipe and
seed). Rows of data sets not run this time are kept from an earlier ``recipes.json``.
"""
from __future__ import annotations

import json
import os
import statistics
from pathlib import Path

import numpy as np

from course_utils import config, data, evaluate, train

from . import machine

DATASETS = ("fashion_mnist", "cifar10")
#: images held out of the training split to choose recipes on (45,000 / 5,000 for CIFAR-10, 55,000 / 5,000 for
#: Fashion-MNIST); ``COURSE_BENCH_VALIDATION`` changes it, 0 trains on the whole training split
VALIDATION_IMAGES = 5000
#: the validation images are the same for every seed and recipe
VALIDATION_SEED = 42
#: (dataset, recipe): (min test accuracy, max training time as a multiple of the reference's). The targets of issue 15
#: apply to the ``course_fast`` recipes; ``course`` (the recipes before them) is measured as a point of comparison.
TARGETS = {
    ("fashion_mnist", "reference"): (0.905, None),
    ("fashion_mnist", "course_fast"): (0.935, 1.0),
    ("fashion_mnist", "course_fast_long"): (0.935, 2.5),
    ("fashion_mnist", "course_long"): (0.935, 5.0),
    ("cifar10", "reference"): (0.64, None),
    ("cifar10", "course_fast"): (0.85, 3.5),
    ("cifar10", "course_fast_long"): (0.88, 3.5),  # the moonshot
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


def selected_seeds() -> list[int]:
    """``COURSE_BENCH_SEEDS`` (comma-separated integers); default: the course's one seed."""
    text = os.environ.get("COURSE_BENCH_SEEDS", "").strip()
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"COURSE_BENCH_SEEDS: comma-separated integers, got {text!r}") from None
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"COURSE_BENCH_SEEDS: a seed twice in {text!r}")
    return seeds or [config.DEFAULT_SEED]


def one_seed_recipes() -> set[str]:
    """``COURSE_BENCH_ONE_SEED`` (comma-separated recipes): trained with the first seed only, to save time on the
    rows that are not headlines; the reference always trains with every seed (the ratios need it)."""
    names = {r.strip() for r in os.environ.get("COURSE_BENCH_ONE_SEED", "").split(",") if r.strip()}
    known = {r for _, r in train.RECIPES}
    if names - known:
        raise ValueError(f"COURSE_BENCH_ONE_SEED: unknown recipe(s) {sorted(names - known)}; choose from "
                         f"{sorted(known)}")
    return names - {"reference"}


def validation_images() -> int:
    text = os.environ.get("COURSE_BENCH_VALIDATION", "").strip()
    if not text:
        return VALIDATION_IMAGES
    if not text.isdigit():
        raise ValueError(f"COURSE_BENCH_VALIDATION: a number of images (0: none), got {text!r}")
    return int(text)


def wants_curve() -> bool:
    """``COURSE_BENCH_CURVE=1``: record validation accuracy after every epoch (an accuracy–time curve per recipe)."""
    return os.environ.get("COURSE_BENCH_CURVE", "").strip() not in ("", "0")


def scores_test() -> bool:
    """``COURSE_BENCH_TEST=0``: development runs that leave the test split unscored (validation only)."""
    return os.environ.get("COURSE_BENCH_TEST", "").strip() != "0"


def split_validation(x, y, n_val: int, seed: int = VALIDATION_SEED):
    """``(x_fit, y_fit), (x_val, y_val)``: ``n_val`` images held out of the training split, every class in
    proportion (the library's stratified split, seeded); the rest, in a seeded shuffled order, to train on."""
    y = np.asarray(y)
    if not n_val:
        return (x, y), (x[:0], y[:0])
    if not 0 < n_val < len(y):
        raise ValueError(f"a validation split of {n_val} images needs more than {len(y)} training images")
    index = np.arange(len(y))
    fit, _ = data.stratified_subset(index, y, len(y) - n_val, seed)
    val = np.setdiff1d(index, fit)
    return (x[fit], y[fit]), (x[val], y[val])


def training_images(recipe: train.Recipe, n_fit: int) -> int:
    """Images one epoch of ``recipe`` trains on, out of ``n_fit`` (its own validation split left out)."""
    return n_fit - int(n_fit * recipe.validation_split)


# --- verdicts, summaries and the table ------------------------------------------------------------

def verdict(dataset: str, recipe: str, test_accuracy: float | None, ratio: float | None) -> str:
    """``ok`` or ``MISSED`` against :data:`TARGETS`; ``not scored`` without a test accuracy."""
    min_acc, max_ratio = TARGETS.get((dataset, recipe), (None, None))
    if test_accuracy is None:
        return "not scored"
    ok = min_acc is None or test_accuracy >= min_acc
    if max_ratio is not None:
        ok = ok and ratio is not None and ratio <= max_ratio
    return "ok" if ok else "MISSED"


def target_text(dataset: str, recipe: str, ascii_only: bool = True) -> str:
    min_acc, max_ratio = TARGETS.get((dataset, recipe), (None, None))
    ge, le, times = (">=", "<=", "x") if ascii_only else ("≥", "≤", "×")
    parts = [f"{ge} {min_acc:.1%}"] if min_acc else []
    if max_ratio:
        parts.append(f"{le} {max_ratio:g}{times} reference time")
    return ", ".join(parts)


def add_ratios(rows: list[dict]) -> list[dict]:
    """Each row's ``time_ratio_to_reference``: its training seconds over the reference's of the same data set and
    seed (rows without a seed, recorded before seeds existed, compare with the reference without one)."""
    ref = {(r["dataset"], r.get("seed")): r["wall_seconds"] for r in rows if r["recipe"] == "reference"}
    for r in rows:
        seconds = ref.get((r["dataset"], r.get("seed")))
        r["time_ratio_to_reference"] = round(r["wall_seconds"] / seconds, 3) if seconds else None
    return rows


def _mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


SUMMARISED = ("validation_accuracy", "test_accuracy", "wall_seconds", "time_ratio_to_reference", "images_per_second",
              "gflops_per_second", "share_of_matmul", "epochs")


def summarize(rows: list[dict]) -> list[dict]:
    """One row per data set and recipe, in first-seen order: ``seeds`` and the mean and (sample) standard deviation
    of each measured figure over the seeds (``<figure>`` and ``<figure>_std``), and the verdict on the means."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["recipe"]), []).append(r)
    out = []
    for (dataset, recipe), group in groups.items():
        s = {"dataset": dataset, "recipe": recipe, "seeds": [r.get("seed") for r in group]}
        for key in SUMMARISED:
            s[key], s[f"{key}_std"] = _mean_std([r.get(key) for r in group])
        s["verdict"] = verdict(dataset, recipe, s["test_accuracy"], s["time_ratio_to_reference"])
        out.append(s)
    return out


def _pct(value, std=None, width=8):
    if value is None:
        return f"{'-':>{width}}"
    text = f"{value:.2%}" + (f"±{std:.2%}" if std else "")
    return f"{text:>{width}}"


def _num(value, fmt, width):
    return f"{'-':>{width}}" if value is None else f"{value:>{width}{fmt}}"


def matmul_rates(rows: list[dict]) -> list[tuple]:
    """The machine's measured float32 matmul rates ``(start, end)`` of the runs behind ``rows``, each once."""
    return sorted({(r.get("machine_matmul_gflops"), r.get("machine_matmul_gflops_end")) for r in rows
                   if r.get("machine_matmul_gflops")}, key=str)


def format_table(rows: list[dict]) -> str:
    """The printed table: one line per recipe and seed, then (with several seeds) mean ± std per recipe."""
    header = (f"{'dataset':<14} {'recipe':<17} {'seed':>5} {'val acc':>8} {'test acc':>8} {'train s':>8} "
              f"{'x ref':>6} {'img/s':>7} {'GFLOP/s':>7} {'epochs':>6}  target")
    lines = [header]
    for r in rows:
        lines.append(f"{r['dataset']:<14} {r['recipe']:<17} {str(r.get('seed', '-')):>5} "
                     f"{_pct(r.get('validation_accuracy'))} {_pct(r.get('test_accuracy'))} "
                     f"{r['wall_seconds']:>8.0f} {_num(r.get('time_ratio_to_reference'), '.2f', 6)} "
                     f"{_num(r.get('images_per_second'), '.0f', 7)} {_num(r.get('gflops_per_second'), '.1f', 7)} "
                     f"{str(r.get('epochs', '')):>6}  {target_text(r['dataset'], r['recipe'])} "
                     f"[{verdict(r['dataset'], r['recipe'], r.get('test_accuracy'), r.get('time_ratio_to_reference'))}]")
    summary = summarize(rows)
    if any(len(s["seeds"]) > 1 for s in summary):
        lines += ["", "mean ± std over seeds:",
                  f"{'dataset':<14} {'recipe':<17} {'seeds':>5} {'val acc':>14} {'test acc':>14} {'train s':>8} "
                  f"{'x ref':>11}  verdict on the means"]
        for s in summary:
            ratio = ("-" if s["time_ratio_to_reference"] is None
                     else f"{s['time_ratio_to_reference']:.2f}±{s['time_ratio_to_reference_std']:.2f}")
            lines.append(f"{s['dataset']:<14} {s['recipe']:<17} {len(s['seeds']):>5} "
                         f"{_pct(s['validation_accuracy'], s['validation_accuracy_std'], 14)} "
                         f"{_pct(s['test_accuracy'], s['test_accuracy_std'], 14)} {s['wall_seconds']:>8.0f} "
                         f"{ratio:>11}  [{s['verdict']}]")
    for start, end in matmul_rates(rows):
        lines.append(f"machine float32 matmul: {start:.0f} GFLOP/s at the start of the run, "
                     f"{end:.0f} at the end" if end else f"machine float32 matmul: {start:.0f} GFLOP/s")
    return "\n".join(lines)


# --- the run ----------------------------------------------------------------------------------------

def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def train_one(recipe: train.Recipe, ds, fit, val, *, seed: int, epochs: int | None, out_dir: Path,
              curve: bool, score_test: bool, machine_gflops: float | None) -> dict:
    """Train ``recipe`` once on ``fit`` (images, labels), score it on ``val`` and (once) on the test split."""
    (x_fit, y_fit), (x_val, y_val) = fit, val
    has_val = len(y_val) > 0
    config.set_seed(seed)
    # the validation split stands in for fit_recipe's "test" images: it scores the model on them
    x_eval, y_eval = (x_val, y_val) if has_val else (ds.x_test, ds.y_test)
    curve_cb = train.AccuracyCurve(x_eval, y_eval, recipe.flip_tta, recipe.translate_tta) if curve else None
    load_before = _load()
    result = train.fit_recipe(recipe, x_fit, y_fit, x_eval, y_eval, ds.num_classes, epochs=epochs, seed=seed,
                              work_dir=out_dir / "checkpoints", verbose=2, callbacks=[curve_cb] if curve_cb else ())
    row = result.row(ds.name)
    row["seed"] = seed
    wall = result.wall_seconds - (curve_cb.eval_seconds if curve_cb else 0.0)  # the curve's evaluations: not training
    row["wall_seconds"] = round(wall, 1)
    row["load_average"] = [load_before, _load()]
    if has_val:
        row["validation_accuracy"] = row.pop("test_accuracy")
        row["test_accuracy"] = None
        if score_test:  # the one time this model meets the test split
            probs = evaluate.predict_proba(result.model, ds.x_test, batch_size=512, flip_tta=recipe.flip_tta,
                                           translate_tta=recipe.translate_tta)
            row["test_accuracy"] = round(float(np.mean(np.argmax(probs, axis=1) == np.asarray(ds.y_test))), 4)
    else:
        row["validation_accuracy"] = None
        if not score_test:
            row["test_accuracy"] = None
    n_train = training_images(recipe, len(y_fit))
    row.update({"batch_size": recipe.batch_size, "train_images": n_train, "validation_images": len(y_val)})
    row.update(machine.achieved(result.model, n_train * result.epochs_run / wall if wall > 0 else 0.0,
                                machine_gflops or 0.0))
    row["training_gflop_per_image"] = round(machine.training_flops_per_image(result.model) / 1e9, 4)
    if curve_cb:
        key = "validation_accuracy" if has_val else "test_accuracy"
        row["curve"] = [{"epoch": epoch + 1, "train_seconds": round(seconds, 3), key: round(accuracy, 4)}
                        for epoch, (seconds, accuracy) in enumerate(zip(result.history["train_seconds"],
                                                                        result.history["heldout_accuracy"]))]
    return row


def run(out_dir, datasets: list[str] | None = None, epochs: int | None = None, subset: int | None = None,
        seeds: list[int] | None = None, validation: int | None = None) -> list[dict]:
    """Train and time every recipe on each data set, for each seed; ``epochs``/``subset`` shrink it (tests,
    trials), ``validation`` overrides :func:`validation_images`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    datasets = datasets or selected_datasets()
    recipes = selected_recipes()
    seeds = seeds or selected_seeds()
    n_val = validation_images() if validation is None else validation
    score_test, curve = scores_test(), wants_curve()
    one_seed = one_seed_recipes()
    config.set_precision(config.default_precision())  # as a Run does: mixed_float16 on a GPU, else float32
    matmul_start = round(machine.matmul_gflops(), 1)
    print(f"[recipes] machine float32 matmul: {matmul_start:.0f} GFLOP/s; seeds {seeds}; validation images "
          f"{n_val}; test split {'scored once per model' if score_test else 'NOT scored (COURSE_BENCH_TEST=0)'}",
          flush=True)
    path = out_dir / "recipes.json"
    kept = ([r for r in json.loads(path.read_text()) if r.get("dataset") not in datasets]
            if path.exists() and set(datasets) != set(DATASETS) else [])
    rows = []
    for name in datasets:
        ds = data.load_dataset(name)
        if subset:
            ds = data.subset_dataset(ds, subset, subset)
        fit, val = split_validation(ds.x_train, ds.y_train, n_val)
        print(f"[recipes] {ds.summary()}; training on {len(fit[1])}, validating on {len(val[1])}", flush=True)
        for seed in seeds:  # every recipe of a seed side by side with its reference, then the next seed
            for (dname, rname), recipe in train.RECIPES.items():
                if dname != name or rname not in recipes or (rname in one_seed and seed != seeds[0]):
                    continue
                print(f"[recipes] {name} / {rname} / seed {seed}: training", flush=True)
                row = train_one(recipe, ds, fit, val, seed=seed, epochs=epochs, out_dir=out_dir, curve=curve,
                                score_test=score_test, machine_gflops=matmul_start)
                row["machine_matmul_gflops"] = matmul_start
                rows.append(row)
                # written after every row, so that an interrupted run keeps what it measured
                path.write_text(json.dumps(kept + add_ratios(rows), indent=1) + "\n")
                print(f"[recipes] {name} / {rname} / seed {seed}: validation {row['validation_accuracy']}, "
                      f"test {row['test_accuracy']}, {row['wall_seconds']:.0f} s of training, "
                      f"{row['images_per_second']:.0f} images/s, {row['gflops_per_second']:.1f} GFLOP/s", flush=True)
    matmul_end = round(machine.matmul_gflops(), 1)
    for r in rows:
        r["machine_matmul_gflops_end"] = matmul_end
    rows = kept + add_ratios(rows)
    path.write_text(json.dumps(rows, indent=1) + "\n")
    print(format_table(rows), flush=True)
    for r in rows:
        if r.get("curve"):
            key = "validation_accuracy" if "validation_accuracy" in r["curve"][0] else "test_accuracy"
            points = ", ".join(f"{c['train_seconds']:.0f} s {c[key]:.1%}" for c in r["curve"])
            print(f"[recipes] curve {r['dataset']}/{r['recipe']}/seed {r.get('seed')} ({key.split('_')[0]}, after "
                  f"each epoch): {points}", flush=True)
    print(f"[recipes] wrote {path}", flush=True)
    return rows
