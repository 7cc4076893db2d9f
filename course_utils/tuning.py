"""Hyperparameter search with KerasTuner: the search space, cached tuners, trial tables and importance.

Taught in notebook 08. The pieces:

- :data:`SPACE` and :class:`CourseHyperModel`: the CNN family being tuned (optimizer, learning rate, batch size,
  filters, blocks, dropout, L2), built by :func:`build_model` from plain values, so the best configuration can be
  rebuilt and retrained outside the tuner;
- :func:`make_tuner`: ``grid`` / ``random`` / ``hyperband`` tuners that keep their trials under
  ``<directory>/<strategy>``; a second run reloads them (KerasTuner's ``overwrite=False``) instead of searching
  again, ``fresh=True`` starts over;
- :func:`run_search`: one search with early stopping, a compact line per trial (KerasTuner itself stays quiet)
  and a record of the time each trial took;
- :func:`trials_frame`, :func:`best_so_far`, :func:`importance`: the results as a pandas table, the
  best-so-far curve and a simple estimate of which hyperparameters matter.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import config

STRATEGIES = ("grid", "random", "hyperband")
OBJECTIVE = "val_accuracy"

#: name -> (values, default). Declared in this order; grid search varies the *last* one fastest.
SPACE: dict[str, tuple[list, object]] = {
    "optimizer": (["adam", "rmsprop", "sgd"], "adam"),
    "learning_rate": ([1e-4, 3e-4, 1e-3, 3e-3], 1e-3),
    "batch_size": ([64, 128, 256], 128),
    "filters": ([16, 32, 64], 32),
    "blocks": ([1, 2, 3], 2),
    "dropout": ([0.0, 0.2, 0.4], 0.2),
    "l2": ([0.0, 1e-5, 1e-4, 1e-3], 1e-4),
}
HYPERPARAMETERS = tuple(SPACE)
LOG_SCALE = ("learning_rate", "l2")  # plotted on a log axis (l2 = 0 shown at the smallest tick)
TIMINGS_FILE = "course_trial_timings.json"
SETTINGS_FILE = "course_settings.json"


def default_values() -> dict:
    """The default configuration (what grid search tries first)."""
    return {name: default for name, (_, default) in SPACE.items()}


def grid_size() -> int:
    return int(np.prod([len(values) for values, _ in SPACE.values()]))


def declare_space(hp) -> dict:
    """Declare :data:`SPACE` on a KerasTuner ``HyperParameters`` and return the chosen values."""
    return {name: hp.Choice(name, values, default=default) for name, (values, default) in SPACE.items()}


def _optimizer(name: str, learning_rate: float):
    import keras

    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {SPACE['optimizer'][0]}")


def build_model(values: dict, input_shape, num_classes: int):
    """A compiled CNN for one configuration, from the course's small-CNN family (:func:`course_utils.models.small_cnn`):
    ``blocks`` × (Conv3×3 → ReLU → MaxPool) with ``filters`` doubling per block, then Flatten → Dropout →
    Dense(128) → softmax, with the configuration's dropout, L2 strength and optimizer. Inputs are images in [0, 1].

    No BatchNorm: a trial of a few hundred steps is too short for its moving averages to settle, which would make
    the validation accuracy of short trials (Hyperband's first rounds) mostly noise.
    """
    from .models import small_cnn

    missing = [k for k in HYPERPARAMETERS if k not in values]
    if missing:
        raise ValueError(f"configuration is missing {missing}; it needs all of {list(HYPERPARAMETERS)}")
    input_shape = tuple(input_shape) if len(input_shape) == 3 else (*input_shape, 1)
    widths = tuple(int(values["filters"]) * 2 ** block for block in range(int(values["blocks"])))
    model = small_cnn(input_shape, num_classes, widths=widths, dense=128, dropout=float(values["dropout"]),
                      l2=float(values["l2"]), batchnorm=False, name="tuned_cnn")
    model.compile(optimizer=_optimizer(values["optimizer"], values["learning_rate"]),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def fit_model(model, values: dict, x, y, validation_data=None, seed: int = config.DEFAULT_SEED, **fit_kwargs):
    """Fit on uint8/float image arrays through the course's tf.data pipeline, with the configuration's batch size."""
    from .pipeline import make_dataset

    batch = int(values["batch_size"])
    fit_kwargs.setdefault("shuffle", False)  # the dataset shuffles itself (seeded)
    train = make_dataset(x, y, batch_size=batch, training=True, seed=seed)
    val = None
    if validation_data is not None:
        val = make_dataset(*validation_data, batch_size=512)
    return model.fit(train, validation_data=val, **fit_kwargs)


def _hypermodel_base():
    import keras_tuner as kt

    class CourseHyperModel(kt.HyperModel):
        """The tunable CNN: :func:`build_model` for the architecture and optimizer, ``fit`` for the batch size."""

        def __init__(self, input_shape, num_classes: int, seed: int = config.DEFAULT_SEED):
            super().__init__(name="course_cnn", tunable=True)
            self.input_shape = tuple(input_shape)
            self.num_classes = int(num_classes)
            self.seed = seed

        def build(self, hp):
            return build_model(declare_space(hp), self.input_shape, self.num_classes)

        def fit(self, hp, model, x, y, validation_data=None, **kwargs):
            values = {name: hp.get(name) for name in HYPERPARAMETERS}
            kwargs.pop("batch_size", None)
            return fit_model(model, values, x, y, validation_data, seed=self.seed, **kwargs)

    return CourseHyperModel


def CourseHyperModel(input_shape, num_classes: int, seed: int = config.DEFAULT_SEED):  # noqa: N802 (a class factory)
    """The tunable CNN as a ``keras_tuner.HyperModel`` (imported lazily: KerasTuner is optional for the course)."""
    return _hypermodel_base()(input_shape, num_classes, seed)


# --- tuners ----------------------------------------------------------------------------------------

def _compact(base):
    """A tuner class that prints one line per trial and records each trial's wall time and epochs."""

    class Compact(base):
        course_strategy = "search"

        def on_search_begin(self):
            super().on_search_begin()
            self._course_timings = _read_json(Path(self.project_dir) / TIMINGS_FILE)

        def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
            # KerasTuner imports tensorboard here even when no TensorBoard callback is used; the course does not
            # install tensorboard, so only go there when one is.
            if any(type(cb).__name__ == "TensorBoard" for cb in callbacks):
                super()._configure_tensorboard_dir(callbacks, trial, execution)

        def run_trial(self, trial, *args, **kwargs):
            start = time.perf_counter()
            results = super().run_trial(trial, *args, **kwargs)
            histories = results if isinstance(results, list) else [results]
            epochs = sum(len(getattr(h, "history", {}).get("loss", [])) for h in histories)
            self._course_timings[trial.trial_id] = {"seconds": time.perf_counter() - start, "epochs": epochs}
            return results

        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            timing = self._course_timings.get(trial.trial_id, {})
            _write_json(Path(self.project_dir) / TIMINGS_FILE, self._course_timings)
            done = len([t for t in self.oracle.trials.values() if t.status == "COMPLETED"])
            score = trial.score if trial.score is not None else float("nan")
            best = self.oracle.get_best_trials(1)
            best_score = best[0].score if best and best[0].score is not None else float("nan")
            shown = ", ".join(f"{k}={_fmt(v)}" for k, v in trial.hyperparameters.values.items()
                              if not k.startswith("tuner/"))
            status = "" if trial.status == "COMPLETED" else f" [{trial.status}]"
            print(f"[{self.course_strategy}] trial {done:>3}: {OBJECTIVE} {score:.4f} (best {best_score:.4f}) "
                  f"{timing.get('epochs', 0)} ep, {timing.get('seconds', 0):.0f} s | {shown}{status}", flush=True)

    Compact.__name__ = f"Compact{base.__name__}"
    return Compact


def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _read_json(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc}); delete it or search again with fresh=True") from exc


def _write_json(path: Path, payload) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, sort_keys=True, default=str) + "\n")


def tuning_dir(dataset: str, mode: str | None = None) -> Path:
    """``<artifacts>/tuning/<dataset>``; lecture mode reuses what a full run searched when it is there."""
    mode = config.get_mode(mode)
    candidates = [config.artifacts_dir(m) / "tuning" / dataset for m in (("full", "lecture") if mode == "lecture"
                                                                          else (mode,))]
    return next((p for p in candidates if p.is_dir() and any(p.iterdir())), candidates[-1])


def saved_settings(directory) -> dict | None:
    """The settings a cached search under ``directory`` was made with (from any strategy), or None."""
    merged = {}
    for strategy in STRATEGIES:
        merged = {**_read_json(Path(directory) / strategy / SETTINGS_FILE), **merged}
    merged.pop("strategy", None)
    return merged or None


def make_tuner(strategy: str, hypermodel, directory, *, max_trials: int = 10, max_epochs: int = 3,
               hyperband_factor: int = 3, hyperband_iterations: int = 2, seed: int = config.DEFAULT_SEED, fresh: bool = False,
               settings: dict | None = None, distribution_strategy=None):
    """A KerasTuner tuner for ``strategy`` (grid | random | hyperband) keeping its trials in
    ``<directory>/<strategy>``.

    Without ``fresh`` an existing search there is reloaded (KerasTuner prints "Reloading Tuner from ...") and
    its finished trials are not run again. ``settings`` (data sizes, epochs, ...) are stored beside the trials;
    reloading a search made with other settings raises an error naming the file rather than mixing results.
    ``max_trials`` is the budget of grid and random search; Hyperband's budget follows from ``max_epochs``,
    ``hyperband_factor`` and ``hyperband_iterations`` (with 3, 3 and 2: 12 trials, about 22 epochs). ``distribution_strategy`` (e.g. ``tf.distribute.MirroredStrategy()``) trains each trial
    on several GPUs of one machine.
    """
    import keras_tuner as kt

    if strategy not in STRATEGIES:
        raise ValueError(f"unknown search strategy {strategy!r}; choose one of {STRATEGIES}")
    directory = Path(directory)
    project = directory / strategy
    settings = {**(settings or {}), "strategy": strategy, "space": {k: v[0] for k, v in SPACE.items()},
                "max_epochs": max_epochs, **({"hyperband": [hyperband_factor, hyperband_iterations]}
                                             if strategy == "hyperband" else {})}
    settings_path = project / SETTINGS_FILE
    if not fresh and settings_path.exists():
        saved = _read_json(settings_path)
        changed = sorted(k for k in set(saved) | set(settings) if saved.get(k) != _jsonable(settings.get(k)))
        if changed:
            raise ValueError(f"{settings_path}: the cached {strategy} search was made with other settings "
                             f"({', '.join(f'{k}: {saved.get(k)} -> {settings.get(k)}' for k in changed)}); "
                             "search again with fresh=True (FRESH_SEARCH = True), or use another directory")
    common = dict(objective=OBJECTIVE, directory=str(directory), project_name=strategy, overwrite=fresh,
                  seed=seed, distribution_strategy=distribution_strategy)
    if strategy == "grid":
        tuner = _compact(kt.GridSearch)(hypermodel, max_trials=max_trials, **common)
    elif strategy == "random":
        tuner = _compact(kt.RandomSearch)(hypermodel, max_trials=max_trials, **common)
    else:
        tuner = _compact(kt.Hyperband)(hypermodel, max_epochs=max_epochs, factor=hyperband_factor,
                                          hyperband_iterations=hyperband_iterations, **common)
    tuner.course_strategy = strategy
    _write_json(settings_path, settings)
    return tuner


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


@dataclass
class SearchOutcome:
    strategy: str
    new_trials: int
    reused_trials: int
    seconds_this_run: float
    search_seconds: float  # the summed wall time of all its trials, whenever they ran

    @property
    def reused(self) -> bool:
        return self.new_trials == 0 and self.reused_trials > 0

    def describe(self) -> str:
        if self.reused:
            return (f"{self.strategy}: reused {self.reused_trials} cached trials (searched earlier in "
                    f"{self.search_seconds:.0f} s); no new trial run")
        extra = f", plus {self.reused_trials} reused from the cache" if self.reused_trials else ""
        return f"{self.strategy}: ran {self.new_trials} new trials in {self.seconds_this_run:.0f} s{extra}"


def _finished(tuner) -> int:
    return sum(t.status == "COMPLETED" for t in tuner.oracle.trials.values())


def run_search(tuner, x, y, validation_data, *, epochs: int, patience: int = 2) -> SearchOutcome:
    """Search (or finish a reloaded search) with early stopping on the validation accuracy, quietly."""
    import keras

    before = _finished(tuner)
    start = time.perf_counter()
    import tensorflow as tf

    stop = keras.callbacks.EarlyStopping(monitor=OBJECTIVE, patience=patience, restore_best_weights=False)
    logger, level = tf.get_logger(), tf.get_logger().level
    logger.setLevel("ERROR")  # a new model per trial: TensorFlow's retracing warnings are expected here
    try:
        tuner.search(x, y, validation_data=validation_data, epochs=epochs, callbacks=[stop], verbose=0)
    finally:
        logger.setLevel(level)
    seconds = time.perf_counter() - start
    after = _finished(tuner)
    timings = _read_json(Path(tuner.project_dir) / TIMINGS_FILE)
    return SearchOutcome(getattr(tuner, "course_strategy", "search"), after - before, before, seconds,
                         float(sum(t["seconds"] for t in timings.values())))


# --- results ---------------------------------------------------------------------------------------

def trials_frame(tuner, strategy: str | None = None):
    """One row per trial in the order they ran: hyperparameters, validation accuracy, epochs, seconds."""
    import pandas as pd

    strategy = strategy or getattr(tuner, "course_strategy", "search")
    timings = _read_json(Path(tuner.project_dir) / TIMINGS_FILE)
    rows = []
    for order, trial_id in enumerate(sorted(tuner.oracle.trials)):
        trial = tuner.oracle.trials[trial_id]
        values = trial.hyperparameters.values
        row = {"strategy": strategy, "trial": order + 1, "trial_id": trial_id, "status": trial.status}
        row.update({name: values.get(name) for name in HYPERPARAMETERS})
        row[OBJECTIVE] = float(trial.score) if trial.score is not None else np.nan
        row["epochs"] = timings.get(trial_id, {}).get("epochs", np.nan)
        row["seconds"] = timings.get(trial_id, {}).get("seconds", np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def best_so_far(scores) -> np.ndarray:
    """The running maximum of ``scores`` (NaN, a failed trial, counts as no improvement)."""
    scores = np.asarray(scores, dtype=float)
    if scores.size == 0:
        return scores
    filled = np.where(np.isnan(scores), -np.inf, scores)
    running = np.maximum.accumulate(filled)
    return np.where(np.isinf(running), np.nan, running)


def best_values(frame) -> dict:
    """The hyperparameters of the row with the highest validation accuracy."""
    done = frame.dropna(subset=[OBJECTIVE])
    if done.empty:
        raise ValueError("no trial finished: there is no best configuration")
    row = done.loc[done[OBJECTIVE].idxmax()]
    return {name: (row[name].item() if hasattr(row[name], "item") else row[name]) for name in HYPERPARAMETERS}


def encode_value(name: str, value) -> float:
    """One hyperparameter value as a number: log10 for the log-scale ones (0 sits a decade below the smallest
    positive value), the position in the list for the optimizer."""
    if name == "optimizer":
        return float(SPACE["optimizer"][0].index(value))
    if name in LOG_SCALE:
        smallest = min(v for v in SPACE[name][0] if v > 0)
        return float(np.log10(max(float(value), smallest / 10)))
    return float(value)


def encode(frame):
    """The hyperparameter columns of ``frame`` as numbers (see :func:`encode_value`), for plots and models."""
    import pandas as pd

    return pd.DataFrame({name: [encode_value(name, v) for v in frame[name]] for name in HYPERPARAMETERS},
                        index=frame.index)


def importance(frame, seed: int = config.DEFAULT_SEED):
    """How much each hyperparameter explains the validation accuracy across all finished trials.

    Two simple estimates: a random forest's impurity importance (non-linear, sums to 1) and the absolute Spearman
    correlation (monotone effects only). With few trials both are rough: read the ranking, not the decimals.
    """
    import pandas as pd
    from sklearn.ensemble import RandomForestRegressor

    done = frame.dropna(subset=[OBJECTIVE])
    if len(done) < 3:
        raise ValueError(f"need at least 3 finished trials to estimate importance, got {len(done)}")
    features = encode(done)
    target = done[OBJECTIVE].astype(float)
    forest = RandomForestRegressor(n_estimators=300, min_samples_leaf=2, random_state=seed).fit(features, target)
    spearman = features.apply(lambda col: col.corr(target, method="spearman") if col.nunique() > 1 else 0.0)
    return (pd.DataFrame({"random_forest": forest.feature_importances_, "abs_spearman": spearman.abs().values},
                         index=features.columns)
            .fillna(0.0).sort_values("random_forest", ascending=False))


def summary_table(frames: dict):
    """One row per strategy: trials, epochs trained, search time, best validation accuracy."""
    import pandas as pd

    rows = []
    for strategy, frame in frames.items():
        rows.append({"strategy": strategy, "trials": len(frame), "epochs trained": int(np.nansum(frame["epochs"])),
                     "search seconds": float(np.nansum(frame["seconds"])),
                     f"best {OBJECTIVE}": float(frame[OBJECTIVE].max())})
    return pd.DataFrame(rows).set_index("strategy")


def distributed_role() -> str | None:
    """``"chief"`` or ``"worker"`` when the KerasTuner distributed-tuning variables are set, else None."""
    needed = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
    if not all(os.environ.get(k) for k in needed):
        return None
    return "chief" if os.environ["KERASTUNER_TUNER_ID"] == "chief" else "worker"


# --- the comparison with notebook 05 --------------------------------------------------------------

RECIPE_NOTEBOOK = "05_training"


def recipe_metrics(dataset: str, metrics_file=None) -> tuple[dict | None, str]:
    """Notebook 05's metrics for ``dataset`` and where they came from, to compare a tuned model with.

    Looks in ``metrics_file`` (default: this build's ``05_training.metrics.json``), then in the full run recorded
    in ``results/metrics-full.json``, so notebook 08 run on its own still has the number. ``(None, why)`` when
    neither has it.
    """
    from . import claims

    path = Path(metrics_file) if metrics_file else config.build_dir() / f"{RECIPE_NOTEBOOK}.metrics.json"
    looked = []
    if path.exists():
        metrics = _read_json(path)
        if metrics.get("dataset") == dataset and "test_accuracy" in metrics:
            return metrics, f"{path.name}, this build ({metrics.get('mode', '?')} mode)"
        looked.append(f"{path.name} is for {metrics.get('dataset', '?')}")
    else:
        looked.append(f"no {path.name} in this build")
    recorded = claims.recorded_metrics(RECIPE_NOTEBOOK)
    if recorded and recorded.get("dataset") == dataset and "test_accuracy" in recorded:
        return recorded, "results/metrics-full.json, the recorded full run of notebook 05"
    looked.append("no recorded full run of notebook 05 for this data set")
    return None, "; ".join(looked)
