"""Bookkeeping for notebook 08's hyperparameter searches: trial logs and tables, budgets, importance.

Notebook 08 teaches KerasTuner in its own cells: ``build_model(hp)`` with ``hp.Choice``/``hp.Int``/``hp.Float``,
``kt.GridSearch``, ``kt.RandomSearch`` and ``kt.Hyperband``, ``tuner.search`` with early stopping,
``tuner.get_best_hyperparameters`` and ``tuner.hypermodel.build``. This module keeps what is not the lesson:

- :class:`TrialLog`: a Keras callback that prints one line per trial and records the epochs it trained and the
  seconds it took (taught in notebook 08, same code; a test keeps the two the same);
- :func:`trials_table`: a finished search as JSON-able rows (hyperparameters, validation accuracy, epochs,
  seconds), from ``tuner.oracle.trials``, so it can be saved and reloaded without KerasTuner;
- :func:`hyperband_budget` and :func:`grid_size`: what a search will cost before it runs;
- :func:`hyperparameter_columns`, :func:`encode`, :func:`summary_table`, :func:`importance`: reading the trials;
- :func:`distributed_role`: whether this process is a distributed-tuning chief or worker.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import keras
import numpy as np

from . import config
from .plots import encode_column

OBJECTIVE = "val_accuracy"
#: columns of a trials table that are not hyperparameters
BOOKKEEPING = ("strategy", "trial", "trial_id", "status", "continues", OBJECTIVE, "epochs", "seconds")


class TrialLog(keras.callbacks.Callback):
    """One line per trial, and the epochs and seconds each trial took (to compare searches at the same budget).

    ``trials`` maps each trial's id to ``{"epochs": ..., "seconds": ...}``: the epochs it really trained
    (early stopping, or Hyperband resuming a model, make them fewer than ``epochs``) and its wall time.
    """

    def __init__(self, tuner, name):
        super().__init__()
        self.tuner, self.name = tuner, name
        self.trials = {}
        self.best = 0.0

    def __deepcopy__(self, memo):
        return self

    def on_train_begin(self, logs=None):
        self.trial = next(iter(self.tuner.oracle.ongoing_trials.values()))
        self.start, self.epochs, self.score = time.perf_counter(), 0, 0.0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1
        self.score = max(self.score, logs["val_accuracy"])

    def on_train_end(self, logs=None):
        seconds = time.perf_counter() - self.start
        self.trials[self.trial.trial_id] = {"epochs": self.epochs, "seconds": round(seconds, 1)}
        self.best = max(self.best, self.score)
        values = self.trial.hyperparameters.values
        shown = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in values.items() if not k.startswith("tuner/"))
        resumes = f" (resumes trial {values['tuner/trial_id']})" if "tuner/trial_id" in values else ""
        print(f"{self.name} {len(self.trials):>2}: val_accuracy {self.score:.4f} (best {self.best:.4f}) | "
              f"{self.epochs} epochs{resumes}, {seconds:.0f} s | {shown}", flush=True)


def trials_table(tuner, timings: dict) -> list[dict]:
    """One JSON-able row per trial of ``tuner``'s search, in the order they ran.

    Each row holds the trial's number, id and status, its hyperparameters (KerasTuner's own ``tuner/...`` entries
    left out; ``continues`` names the trial a Hyperband round resumed, else None), its score (the best validation
    accuracy of its epochs) and, from ``timings`` (:attr:`TrialLog.trials`), the epochs it trained and its seconds.
    """
    rows = []
    for number, trial_id in enumerate(sorted(tuner.oracle.trials, key=int), start=1):
        trial = tuner.oracle.trials[trial_id]
        values = trial.hyperparameters.values
        row = {"trial": number, "trial_id": trial_id, "status": str(trial.status)}
        row.update({k: v for k, v in values.items() if not k.startswith("tuner/")})
        timing = timings.get(trial_id, {})
        row.update({"continues": values.get("tuner/trial_id"),
                    OBJECTIVE: None if trial.score is None else float(trial.score),
                    "epochs": timing.get("epochs"), "seconds": timing.get("seconds")})
        rows.append(row)
    return rows


# --- what a search costs ---------------------------------------------------------------------------

def hyperband_budget(max_epochs: int, factor: int = 3, iterations: int = 1) -> dict:
    """The trials and epochs KerasTuner's Hyperband plans for ``max_epochs``, ``factor`` and ``iterations``.

    KerasTuner 1.4's schedule: brackets ``b = B-1 ... 0`` (``B`` = how many times ``max_epochs`` can be divided by
    ``factor`` and stay at least 1); bracket ``b`` has rounds ``r = 0 ... b`` of ``ceil(ceil(1 + log_factor
    max_epochs) / (b + 1) * factor**(b - r))`` trials trained to ``ceil(max_epochs / factor**(b - r))`` epochs; a
    round after the first resumes the best models of the one before, so it trains only the difference. Early
    stopping (or a space too small to draw new configurations from) can only make the real numbers smaller.
    Returns ``{"trials", "epochs", "rounds"}`` with one ``(bracket, round, trials, epochs trained each)`` per round.
    """
    if max_epochs < 1 or factor < 2 or iterations < 1:
        raise ValueError(f"need max_epochs >= 1, factor >= 2 and iterations >= 1, got {max_epochs}, {factor}, "
                         f"{iterations}")
    brackets, epochs = 0, float(max_epochs)
    while epochs >= 1:
        epochs /= factor
        brackets += 1
    last_size = math.ceil(1 + math.log(max_epochs, factor))
    rounds = []
    for _ in range(iterations):
        for bracket in range(brackets - 1, -1, -1):
            done = 0
            for rnd in range(bracket + 1):
                size = math.ceil(last_size / (bracket + 1) * factor ** (bracket - rnd))
                target = math.ceil(max_epochs / factor ** (bracket - rnd))
                rounds.append((bracket, rnd, size, target - done))
                done = target
    return {"trials": sum(r[2] for r in rounds), "epochs": sum(r[2] * r[3] for r in rounds), "rounds": rounds}


def grid_size(hyperparameters) -> int:
    """How many combinations a grid search over ``hyperparameters`` (a ``keras_tuner.HyperParameters``) has."""
    return int(np.prod([len(list(hp.values)) for hp in hyperparameters.space]))


# --- reading the trials ----------------------------------------------------------------------------

def hyperparameter_columns(frame) -> list[str]:
    """The columns of a trials table that are hyperparameters (everything but :data:`BOOKKEEPING`)."""
    return [c for c in frame.columns if c not in BOOKKEEPING]






def encode(frame, params=None):
    """The hyperparameter columns of ``frame`` as numbers (see :func:`encode_column`), for plots and models."""
    import pandas as pd

    params = list(params or hyperparameter_columns(frame))
    return pd.DataFrame({name: encode_column(frame[name]) for name in params}, index=frame.index)




def summary_table(frames: dict):
    """One row per strategy: trials, epochs trained, search seconds (summed over trials), best validation accuracy."""
    import pandas as pd

    rows = []
    for strategy, frame in frames.items():
        rows.append({"strategy": strategy, "trials": len(frame),
                     "epochs trained": int(np.nansum(frame["epochs"].astype(float))),
                     "search seconds": round(float(np.nansum(frame["seconds"].astype(float))), 1),
                     f"best {OBJECTIVE}": float(frame[OBJECTIVE].astype(float).max())})
    return pd.DataFrame(rows).set_index("strategy")


def importance(frame, params=None, seed: int = config.DEFAULT_SEED):
    """How much each hyperparameter explains the validation accuracy across all finished trials.

    Two simple estimates: a random forest's impurity importance (non-linear, sums to 1) and the absolute Spearman
    correlation (monotone effects only). With few trials both are rough: read the ranking, not the decimals.
    """
    import pandas as pd
    from sklearn.ensemble import RandomForestRegressor

    done = frame.dropna(subset=[OBJECTIVE])
    if len(done) < 3:
        raise ValueError(f"need at least 3 finished trials to estimate importance, got {len(done)}")
    features = encode(done, params)
    target = done[OBJECTIVE].astype(float)
    forest = RandomForestRegressor(n_estimators=300, min_samples_leaf=2, random_state=seed).fit(features, target)
    spearman = features.apply(lambda col: col.corr(target, method="spearman") if col.nunique() > 1 else 0.0)
    return (pd.DataFrame({"random_forest": forest.feature_importances_, "abs_spearman": spearman.abs().values},
                         index=features.columns)
            .fillna(0.0).sort_values("random_forest", ascending=False))


def distributed_role() -> str | None:
    """``"chief"`` or ``"worker"`` when the KerasTuner distributed-tuning variables are set, else None."""
    needed = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
    if not all(os.environ.get(k) for k in needed):
        return None
    return "chief" if os.environ["KERASTUNER_TUNER_ID"] == "chief" else "worker"
