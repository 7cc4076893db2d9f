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

from course_utils import config

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


def record_full_metrics(summary: Path, notebooks: list[str], only: list[str] | None = None) -> Path:
    """Promote a full run's metrics (its ``summary.json``) to ``results/metrics-full.json``: an explicit step.

    Refuses a run that is not in full mode, misses a notebook of ``notebooks``, had a failure, or ran on the
    fallback data: the recorded figures are what the prose is checked against, so they come from one whole, real run.
    ``only``: record just these notebooks of the run (a change confined to them, re-run together with the notebooks
    that read their results), keeping the recorded metrics of the others.
    """
    run = json.loads(Path(summary).read_text())
    rows = {row["notebook"]: row for row in run.get("notebooks", [])}
    if only:
        unknown = [nb for nb in only if nb not in notebooks]
        if unknown:
            raise SystemExit(f"--only: no such notebook(s) {unknown}; the course's: {notebooks}")
        rows = {nb: row for nb, row in rows.items() if nb in only}
    problems = [f"mode is {run.get('mode')!r}, not 'full'"] if run.get("mode") != "full" else []
    problems += [f"{nb}: not in this run" for nb in (only or notebooks) if nb not in rows]
    problems += [f"{nb}: failed ({row['error']})" for nb, row in rows.items() if row.get("error")]
    problems += [f"{nb}: ran on the fallback data" for nb, row in rows.items()
                 if row.get("metrics", {}).get("dataset") == "digits"]
    if problems:
        raise SystemExit(f"{summary}: not recorded:\n  " + "\n  ".join(problems))
    path = results_file()
    recorded = json.loads(path.read_text()) if only and path.exists() else {}
    recorded.update({nb: rows[nb]["metrics"] for nb in rows})
    path.parent.mkdir(exist_ok=True)
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


def main(argv: list[str] | None = None) -> int:
    """``python -m course_tools.claims --promote [build/full/summary.json] [--only 05_training,06_evaluation]``:
    record a whole full run's metrics, or only those of the named notebooks (the others' stay as recorded)."""
    import sys

    from .run import list_notebooks

    argv = list(sys.argv[1:] if argv is None else argv)
    only = None
    if "--only" in argv:
        at = argv.index("--only")
        if at + 1 >= len(argv):
            print(main.__doc__)
            return 2
        only = [nb.strip() for nb in argv[at + 1].split(",") if nb.strip()]
        del argv[at:at + 2]
    if argv[:1] != ["--promote"]:
        print(main.__doc__)
        return 2
    summary = Path(argv[1]) if len(argv) > 1 else config.repo_root() / "build" / "full" / "summary.json"
    notebooks = list_notebooks()
    path = record_full_metrics(summary, [nb.stem for nb in notebooks], only=only)
    problems = check_claims(notebooks, json.loads(path.read_text()))
    print(f"recorded {path}" + (f" (only {', '.join(only)})" if only else "")
          + "".join(f"\nPROSE CHECK: {p}" for p in problems))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
