"""The course runner: execute notebooks with papermill, export HTML, print the summary table.

``make course`` is a thin wrapper over ``python -m course_tools.run`` (through ``course.py``, which
also sets up the environment). Examples::

    python -m course_tools.run                   # every notebook, full mode, into build/full/
    python -m course_tools.run --mode smoke      # the quick version
    python -m course_tools.run --nb 05           # one notebook
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from course_utils import config


@dataclass
class NotebookResult:
    notebook: str
    seconds: float
    metrics: dict
    output: Path
    error: str | None = None

    @property
    def headline(self) -> str:
        if self.error:
            return f"FAILED: {self.error}"
        key = self.metrics.get("headline_metric")
        if key and key in self.metrics:
            value = self.metrics[key]
            shown = f"{value:.4f}" if isinstance(value, float) else str(value)
            text = f"{key} = {shown}"
        else:
            text = "(no headline metric)"
        if self.metrics.get("dataset"):
            text += f" [{self.metrics['dataset']}]"
        return text


def notebooks_dir() -> Path:
    root = config.repo_root()
    if root is None:
        raise SystemExit("The course runner needs a checkout of the course repository (notebooks/ not found).")
    return root / "notebooks"


def list_notebooks(selection: str | None = None) -> list[Path]:
    """Notebooks in course order; ``selection`` picks by number prefix ("05") or name fragment."""
    found = sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb"))
    if selection:
        wanted = [s.strip() for s in str(selection).split(",") if s.strip()]
        found = [p for p in found if any(p.name.startswith(w.zfill(2)) or w in p.stem for w in wanted)]
        if not found:
            raise SystemExit(f"No notebook matches {selection!r} in {notebooks_dir()}")
    return found


@contextmanager
def _environment(**values):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update({k: str(v) for k, v in values.items() if v is not None})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def execute_notebook(path: Path, mode: str, out_dir: Path, artifacts: Path | None = None,
                     parameters: dict | None = None, progress: bool = True) -> NotebookResult:
    """Run one notebook with papermill into ``out_dir`` and read the metrics it wrote.

    ``artifacts`` is the root of the saved models (``<artifacts>/<mode>/``), shared by the notebooks of a run.
    """
    import papermill as pm

    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / path.name
    metrics_file = out_dir / f"{path.stem}.metrics.json"
    metrics_file.unlink(missing_ok=True)
    env = {"COURSE_MODE": mode, "PYTHONHASHSEED": "0",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    error = None
    start = time.perf_counter()
    with _environment(**env):
        try:
            folders = {"BUILD_DIR": os.path.relpath(out_dir.resolve(), path.parent.resolve()),
                       "ARTIFACTS_DIR": os.path.relpath(artifacts.resolve(), path.parent.resolve()) if artifacts else None}
            pm.execute_notebook(str(path), str(output), parameters={"MODE": mode, **folders, **(parameters or {})},
                                cwd=str(path.parent), kernel_name="python3", progress_bar=progress,
                                log_output=False, request_save_on_cell_execute=False)
        except Exception as exc:  # papermill raises PapermillExecutionError with the cell's traceback
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
    seconds = time.perf_counter() - start
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    if error is None and not metrics:
        error = f"{path.name} wrote no metrics file ({metrics_file.name})"
    return NotebookResult(path.stem, seconds, metrics, output, error)


def format_table(results: list[NotebookResult], mode: str) -> str:
    rows = [("notebook", "seconds", "headline metric")]
    rows += [(r.notebook, f"{r.seconds:.0f}", r.headline) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"Course run, mode={mode}"]
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append(f"total: {sum(r.seconds for r in results):.0f} s, "
                 f"{sum(r.error is None for r in results)}/{len(results)} notebooks succeeded")
    return "\n".join(lines)


def run_course(mode: str = "full", selection: str | None = None, build_root: Path | None = None,
               html: bool = True, precision: str | None = None) -> list[NotebookResult]:
    """Execute the selected notebooks in ``mode`` into ``<build_root>/<mode>/``; ``precision`` forces every
    notebook's ``PRECISION`` parameter (``mixed_float16`` runs the GPU path on a CPU)."""
    mode = config.get_mode(mode)
    build_root = Path(build_root) if build_root else (config.repo_root() / "build")
    out_dir = build_root / mode
    artifacts = build_root / "artifacts"  # one folder per mode inside; lecture mode reads full's
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for nb in list_notebooks(selection):
        print(f"==> {nb.name} (mode={mode})", flush=True)
        result = execute_notebook(nb, mode, out_dir, artifacts,
                                  parameters={"PRECISION": precision} if precision else None)
        if html and result.output.exists():
            from .site import export_html
            export_html(result.output)
        print(f"    {result.seconds:.0f} s, {result.headline}", flush=True)
        results.append(result)
    summary_file = out_dir / "summary.json"
    merged = {}  # a run of one notebook updates its row and keeps the others from earlier runs
    if summary_file.exists():
        merged = {row["notebook"]: row for row in json.loads(summary_file.read_text()).get("notebooks", [])}
    for r in results:
        merged[r.notebook] = {"notebook": r.notebook, "seconds": round(r.seconds, 1), "headline": r.headline,
                              "metrics": r.metrics, "error": r.error, "output": r.output.name}
    rows = [merged[k] for k in sorted(merged)]
    summary_file.write_text(json.dumps({"mode": mode, "notebooks": rows}, indent=2) + "\n")
    prose_problems = []
    if mode == "full":  # the prose is checked against this run; recording it is `python -m course_tools.claims --promote`
        from .claims import check_claims
        measured = {r.notebook: r.metrics for r in results if not r.error and r.metrics.get("dataset") != "digits"}
        prose_problems = check_claims([nb for nb in list_notebooks(selection) if nb.stem in measured], measured)
        for problem in prose_problems:
            print(f"PROSE CHECK: {problem}")
    if html:
        from .site import write_site
        index = write_site(build_root / "site", mode, out_dir, rows)
        print(f"Rendered course: {index}")
    print(format_table(results, mode))
    if prose_problems:
        print(f"{len(prose_problems)} statement(s) in the prose disagree with this run: fix the text or the code")
    return results, prose_problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_tools.run", description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default=os.environ.get("COURSE_MODE", "full"), choices=config.MODES)
    parser.add_argument("--nb", default=None, help="notebook number(s) or name fragment, e.g. 05 or 01,02")
    parser.add_argument("--build-dir", type=Path, default=None, help="default: build/ in the checkout")
    parser.add_argument("--no-html", action="store_true", help="skip the HTML export")
    parser.add_argument("--precision", default=None, choices=config.PRECISIONS,
                        help="force the notebooks' Keras dtype policy (default: mixed_float16 on a GPU, else float32)")
    args = parser.parse_args(argv)
    results, prose_problems = run_course(args.mode, args.nb, args.build_dir, html=not args.no_html,
                                         precision=args.precision)
    return 0 if all(r.error is None for r in results) and not prose_problems else 1


if __name__ == "__main__":
    sys.exit(main())
