"""Numbers in the prose, checked: a figure a notebook states about its own results carries a claim.

In markdown, right after the figure, write a hidden claim::

    The baseline reaches about 84% <!-- claim: test_accuracy = 0.84 ± 0.02 -->

``check_claims`` compares every claim with the metrics the notebook wrote in a full run. ``make course``
(full mode) records those metrics in ``results/metrics-full.json`` and checks the claims; a test checks the
committed notebooks against that file, so the text cannot drift from what the code produces.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from . import config

CLAIM = re.compile(r"<!--\s*claim:\s*([A-Za-z0-9_]+)\s*=\s*([-+0-9.eE]+)\s*±\s*([0-9.eE]+)\s*-->")


@dataclass(frozen=True)
class Claim:
    notebook: str
    key: str
    value: float
    tolerance: float

    def check(self, metrics: dict) -> str | None:
        """None when the metric agrees with the text, else what is wrong."""
        if self.key not in metrics:
            return f"{self.notebook}: the text claims {self.key} but the notebook wrote no such metric"
        actual = float(metrics[self.key])
        if abs(actual - self.value) > self.tolerance:
            return (f"{self.notebook}: the text says {self.key} = {self.value} ± {self.tolerance}, "
                    f"the full run measured {actual:.4f}")
        return None


def claims_in(nb_path: Path) -> list[Claim]:
    nb = nbformat.read(nb_path, as_version=4)
    return [Claim(nb_path.stem, key, float(value), float(tol))
            for cell in nb.cells if cell.cell_type == "markdown"
            for key, value, tol in CLAIM.findall(cell.source)]


def results_file() -> Path:
    return config.repo_root() / "results" / "metrics-full.json"


def recorded_metrics(notebook: str) -> dict | None:
    """The metrics ``notebook`` wrote in the last recorded full run, or None (no checkout, or none recorded)."""
    if config.repo_root() is None or not results_file().exists():
        return None
    return json.loads(results_file().read_text()).get(notebook)


def record_full_metrics(rows: list[dict]) -> Path:
    """Merge the metrics of successful full-mode notebooks into ``results/metrics-full.json``."""
    path = results_file()
    path.parent.mkdir(exist_ok=True)
    recorded = json.loads(path.read_text()) if path.exists() else {}
    for row in rows:
        if not row.get("error") and row.get("metrics", {}).get("mode") == "full":
            recorded[row["notebook"]] = row["metrics"]
    path.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
    return path


def check_claims(notebooks: list[Path], metrics_by_notebook: dict) -> list[str]:
    problems = []
    for nb in notebooks:
        for claim in claims_in(nb):
            if nb.stem not in metrics_by_notebook:
                problems.append(f"{nb.stem}: has claims but no full-mode metrics are recorded")
                break
            problem = claim.check(metrics_by_notebook[nb.stem])
            if problem:
                problems.append(problem)
    return problems
