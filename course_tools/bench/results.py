"""Recorded benchmark results (``results/bench/<part>.json``) and the README tables generated from them.

    python -m course_tools.bench.results promote recipes build/bench/recipes.json "2026-11-26, idle 2-core EPYC"
    python -m course_tools.bench.results readme        # rewrite the README's bench tables from results/bench/

``make bench`` writes only under ``build/bench/``; recording a run is this explicit ``promote`` step, which refuses
rows from the fallback data. A recorded file holds runs, each with when and where it was measured and its rows; a
new run of a data set replaces the recorded run of that data set. The README's tables sit between
``<!-- bench-table PART DATASET -->`` and ``<!-- /bench-table -->`` and are generated here; ``tests`` fail while
they differ from the recorded files, so a table cannot drift from the measurement it reports.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from course_utils import config

from . import recipes

PARTS = ("recipes",)
_BLOCK = re.compile(r"(<!-- bench-table (\w+) (\w+) -->\n)(.*?)(<!-- /bench-table -->)", re.DOTALL)


def results_dir(root: Path | None = None) -> Path:
    return Path(root or config.repo_root()) / "results" / "bench"


def load(part: str, root: Path | None = None) -> dict:
    path = results_dir(root) / f"{part}.json"
    return json.loads(path.read_text()) if path.exists() else {"part": part, "runs": []}


def promote(part: str, source: Path, recorded: str, root: Path | None = None) -> Path:
    """Record the rows of ``source`` (a ``build/bench/<part>.json``) as one run measured ``recorded``.

    They replace the recorded rows of the same data sets; an earlier run that also measured other data sets keeps
    those rows (and its description).
    """
    if part not in PARTS:
        raise SystemExit(f"unknown part {part!r}; recorded parts: {PARTS}")
    rows = json.loads(Path(source).read_text())
    if not rows:
        raise SystemExit(f"{source}: no rows to record")
    bad = sorted({r.get("dataset", "?") for r in rows if r.get("dataset") not in recipes.DATASETS or r.get("error")
                  or r.get("test_accuracy") is None})
    if bad:
        raise SystemExit(f"{source}: not recording: rows for {bad} (fallback data, unknown data set, an error, "
                         "or a development run that left the test split unscored)")
    datasets = sorted({r["dataset"] for r in rows})
    recorded_file = load(part, root)
    kept = []
    for run in recorded_file["runs"]:  # an earlier run keeps the rows of the data sets not recorded now
        others = [row for row in run["rows"] if row.get("dataset") not in datasets]
        if others:
            kept.append({**run, "datasets": [d for d in run["datasets"] if d not in datasets], "rows": others})
    recorded_file["runs"] = kept + [{"recorded": recorded, "datasets": datasets, "rows": rows}]
    path = results_dir(root) / f"{part}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(recorded_file, indent=1) + "\n")
    return path


def _target_text(dataset: str, recipe: str) -> str:
    return recipes.target_text(dataset, recipe, ascii_only=False) or "–"


def _cell(value, std=None, fmt="{:.2%}") -> str:
    if value is None:
        return "–"
    return fmt.format(value) + (" ± " + fmt.format(std) if std else "")


def recipes_table(dataset: str, recorded: dict) -> str:
    """The markdown table of one data set's recorded recipe rows, with today's targets and whether each is met.

    One line per recipe: with several seeds, the mean ± standard deviation over them (the verdict on the means).
    """
    runs = [run for run in recorded["runs"] if dataset in run["datasets"]]
    if not runs:
        return f"*(no recorded run for {dataset}: `make bench PART=recipes`, then `promote`)*\n"
    run = runs[-1]
    rows = [dict(r) for r in run["rows"] if r["dataset"] == dataset]
    if any(r.get("time_ratio_to_reference") is None for r in rows):  # recorded before the bench wrote ratios
        recipes.add_ratios(rows)
    lines = [f"Recorded {run['recorded']}.", "",
             "| recipe | seeds | validation accuracy | test accuracy | training s | epochs | × reference "
             "| images/s | GFLOP/s (share of matmul) | target | met |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in recipes.summarize(rows):
        seeds = len(s["seeds"]) if s["seeds"] != [None] else "–"
        rate = "–" if s["gflops_per_second"] is None else (
            f"{s['gflops_per_second']:.0f}" + (f" ({s['share_of_matmul']:.0%})" if s["share_of_matmul"] else ""))
        epochs = "–" if s["epochs"] is None else f"{s['epochs']:.3g}"  # a mean over seeds: 12.3
        has_target = any(recipes.TARGETS.get((dataset, s["recipe"]), (None, None)))
        met = {"ok": "yes", "MISSED": "**no**"}.get(s["verdict"], "–") if has_target else "–"
        lines.append(f"| {s['recipe']} | {seeds} | {_cell(s['validation_accuracy'], s['validation_accuracy_std'])} "
                     f"| {_cell(s['test_accuracy'], s['test_accuracy_std'])} "
                     f"| {_cell(s['wall_seconds'], s['wall_seconds_std'], '{:.0f}')} | {epochs} "
                     f"| {_cell(s['time_ratio_to_reference'], s['time_ratio_to_reference_std'], '{:.2f}')} "
                     f"| {_cell(s['images_per_second'], None, '{:.0f}')} | {rate} "
                     f"| {_target_text(dataset, s['recipe'])} | {met} |")
    lines += curve_lines(rows)
    for start, end in recipes.matmul_rates(rows):
        lines += ["", f"The machine's float32 matmul rate, measured in the same run: {start:.0f} GFLOP/s at its start"
                  + (f", {end:.0f} at its end." if end else ".")]
    return "\n".join(lines) + "\n"


def curve_lines(rows: list[dict]) -> list[str]:
    """The accuracy–time curves of the first seed that has them: one line per recipe, validation accuracy after each
    epoch against the training seconds so far (``COURSE_BENCH_CURVE=1``)."""
    with_curve = [r for r in rows if r.get("curve")]
    if not with_curve:
        return []
    seed = with_curve[0].get("seed")
    lines = ["", f"Accuracy–time curves (seed {seed}): validation accuracy after each epoch, at the training seconds "
             "so far.", ""]
    for r in with_curve:
        if r.get("seed") != seed:
            continue
        key = "validation_accuracy" if "validation_accuracy" in r["curve"][0] else "test_accuracy"
        points = ", ".join(f"{c['train_seconds']:.0f} s {c[key]:.1%}" for c in r["curve"])
        lines.append(f"- `{r['recipe']}`: {points}")
    return lines


def render(part: str, dataset: str, root: Path | None = None) -> str:
    if part != "recipes":
        raise ValueError(f"no README table is generated for part {part!r}")
    return recipes_table(dataset, load(part, root))


def readme_blocks(text: str) -> list[tuple[str, str, str]]:
    """``(part, dataset, current table)`` for every generated block of the README's ``text``."""
    return [(m.group(2), m.group(3), m.group(4)) for m in _BLOCK.finditer(text)]


def sync_readme(readme: Path | None = None, root: Path | None = None) -> bool:
    """Regenerate every bench table of the README; True when the file changed."""
    readme = Path(readme or Path(root or config.repo_root()) / "README.md")
    text = readme.read_text()
    new = _BLOCK.sub(lambda m: m.group(1) + render(m.group(2), m.group(3), root) + m.group(5), text)
    if new != text:
        readme.write_text(new)
    return new != text


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["promote"] and len(argv) == 4:
        print(f"recorded in {promote(argv[1], Path(argv[2]), argv[3])}")
        argv = ["readme"]
    if argv == ["readme"]:
        print("README.md: bench tables " + ("regenerated" if sync_readme() else "already up to date"))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
