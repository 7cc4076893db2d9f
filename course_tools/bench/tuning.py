"""``make bench`` part ``tuning``: notebook 08's search budget and result, measured.

    python course.py bench tuning      # writes build/bench/tuning.json

Runs notebook 08 in full mode with a fresh search (``REUSE_SEARCH=False``) in its own artifacts folder
(``<out_dir>/tuning-artifacts``, so the course's saved searches are never touched) and reports, per strategy,
the trials, the epochs they really trained (the notebook gives every strategy the same budget in epochs), the
summed seconds of its trials and the best validation accuracy (read from ``08_tuning.search.json``, which the
notebook's last cell writes), then the retrained model's test accuracy against notebook 05's improved recipe (read
from ``build/full/05_training.metrics.json`` when it exists).

Targets (not timed tests): all three searches together in about 20 minutes on a 2-core CPU; the epochs of the
three strategies within 10% of each other; the retrained best configuration at least as accurate as the recipe
(about 92%), or the notebook says, from the numbers, why not.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from course_utils import config

SEARCH_BUDGET_SECONDS = 20 * 60
RECIPE_TARGET = 0.92
EPOCH_TOLERANCE = 0.10


def summarize(report: dict, metrics: dict, *, mode: str, notebook_seconds: float) -> list[dict]:
    """The bench rows from the notebook's ``08_tuning.search.json`` (``report``) and its metrics."""
    rows = [{"part": "search", "strategy": strategy, "mode": mode, **entry} for strategy, entry in report.items()]
    search_total = sum(r["search_seconds"] for r in rows)
    epochs = [r["epochs"] for r in rows if r.get("epochs")]
    same_budget = bool(epochs) and (max(epochs) - min(epochs)) <= EPOCH_TOLERANCE * max(epochs)
    accuracy = metrics.get("test_accuracy")
    rows.append({"part": "total", "mode": mode, "notebook_seconds": round(notebook_seconds, 1),
                 "search_seconds_all_strategies": round(search_total, 1),
                 "within_search_budget": search_total <= SEARCH_BUDGET_SECONDS,
                 "epochs_per_strategy": {r["strategy"]: r.get("epochs") for r in rows},
                 "same_epoch_budget": same_budget,
                 "best_strategy": metrics.get("best_strategy"), "best_config": metrics.get("best_config"),
                 "val_accuracy_stderr": metrics.get("val_accuracy_stderr"),
                 "test_accuracy": round(accuracy, 4) if accuracy is not None else None,
                 "recipe_test_accuracy": metrics.get("recipe_test_accuracy"),
                 "reached_recipe": metrics.get("reached_recipe"),
                 "reached_target_0.92": (accuracy >= RECIPE_TARGET) if accuracy is not None else None})
    return rows


def run(out_dir, fresh: bool = True, mode: str = "full", parameters: dict | None = None) -> list[dict]:
    from course_tools.run import execute_notebook, list_notebooks

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    notebook = list_notebooks("08")[0]
    recipe_file = config.repo_root() / "build" / "full" / "05_training.metrics.json"
    params = {"REUSE_SEARCH": not fresh, **(parameters or {})}
    params.setdefault("RECIPE_METRICS", str(recipe_file))  # read when the notebook gets there (05 may finish first)
    run_dir = out_dir / "tuning-run"
    start = time.perf_counter()
    result = execute_notebook(notebook, mode, run_dir, artifacts=out_dir / "tuning-artifacts", parameters=params,
                              progress=False)
    seconds = time.perf_counter() - start
    report_file = run_dir / "08_tuning.search.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    rows = summarize(report, result.metrics, mode=mode, notebook_seconds=seconds)
    rows[-1].update({"executed_notebook": str(result.output), "error": result.error})
    (out_dir / "tuning.json").write_text(json.dumps(rows, indent=1) + "\n")
    for row in rows:
        print("[bench tuning]", json.dumps(row), flush=True)
    return rows
