"""The README's result tables, generated from the recorded files so that they cannot drift from them.

    python -m course_tools.readme            # rewrite every generated table of README.md
    python -m course_tools.readme --check    # exit 1 (and say which) while a table differs from its source

A generated table sits between ``<!-- results-table NAME -->`` and ``<!-- /results-table -->``:

- ``headlines``: each notebook's headline metric in the recorded full run (``results/metrics-full.json``);
- ``tuning``: notebook 08's three searches in that run (trials, epochs, seconds, best validation accuracy);
- ``transfer``: notebook 07's models and its comparison by training-set size in that run;
- ``times``: seconds per notebook in each mode (``results/timings.json``).

The benchmark tables (``<!-- bench-table ... -->``) come from ``results/bench/`` through
:mod:`course_tools.bench.results`; this command regenerates those too.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from course_utils import config

from .bench import results as bench_results

_BLOCK = re.compile(r"(<!-- results-table (\w+) -->\n)(.*?)(<!-- /results-table -->)", re.DOTALL)
STRATEGIES = {"grid": "grid", "random": "random", "hyperband": "Hyperband"}
MODES = ("full", "lecture", "smoke")


def _load(root: Path, name: str) -> dict:
    path = root / "results" / name
    if not path.exists():
        raise FileNotFoundError(f"{path}: no recorded results to build the README's tables from")
    return json.loads(path.read_text())


def _number(notebook: str) -> str:
    return notebook.split("_", 1)[0]


def _shown(key: str, value) -> str:
    if not isinstance(value, (int, float)):
        return str(value)
    if "accuracy" in key:
        return f"{value:.2%}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def headlines_table(metrics: dict) -> str:
    """One row per notebook: its headline metric and value in the recorded full run."""
    lines = ["| notebook | data set | headline metric | value |", "|---|---|---|---|"]
    for notebook, m in sorted(metrics.items()):
        key = m.get("headline_metric")
        value = m.get(key) if key else None
        if value is None:
            continue
        shown = _shown(key, value)
        lines.append(f"| {_number(notebook)} | {m.get('dataset', '–')} | {key.replace('_', ' ')} | {shown} |")
    return "\n".join(lines) + "\n"


def tuning_table(metrics: dict) -> str:
    """Notebook 08's searches: trials, epochs trained, search seconds and best validation accuracy per strategy."""
    m = metrics.get("08_tuning")
    if not m:
        return "*(no recorded full run of notebook 08)*\n"
    lines = ["| strategy | trials | epochs trained | search s | best validation accuracy |", "|---|---|---|---|---|"]
    for key, name in STRATEGIES.items():
        seconds = m.get(f"seconds_{key}")
        lines.append(f"| {name} | {m[f'trials_{key}']} | {m[f'epochs_{key}']} | "
                     f"{'–' if seconds is None else f'{seconds:.0f}'} | {m[f'best_val_accuracy_{key}']:.3f} |")
    lines += ["", f"Best strategy: {m['best_strategy']}; the configuration it found, retrained on train + validation, "
                  f"scored {m['test_accuracy']:.2%} on the test split (validation standard error "
                  f"±{100 * m['val_accuracy_stderr']:.2f} points)."]
    return "\n".join(lines) + "\n"


def transfer_table(metrics: dict) -> str:
    """Notebook 07: its fine-tuned model, then test accuracy per method and training-set size (``comparison``)."""
    m = metrics.get("07_transfer_learning")
    if not m:
        return "*(no recorded full run of notebook 07)*\n"
    found = [key.split(" @ ") for key in m["comparison"]]
    order = ["from scratch", "feature extraction", "fine-tuning"]  # the notebook's order
    methods = sorted(dict.fromkeys(method for method, _ in found), key=lambda x: (x not in order, order.index(x)
                                                                                  if x in order else 0, x))
    sizes = sorted({int(n) for _, n in found})
    lines = ["| images per class | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for n in sizes:
        cells = [m["comparison"].get(f"{method} @ {n}") for method in methods]
        lines.append(f"| {n} | " + " | ".join("–" if c is None else f"{c:.1%}" for c in cells) + " |")
    lines += ["", f"The notebook's own model ({m['train_images']:,} training images of five classes, backbone "
                  f"{m['backbone']} from {m['backbone_source']}): feature extraction {m['feature_extraction_accuracy']:.2%}, "
                  f"fine-tuned {m['test_accuracy']:.2%} on the test folder (chance {m['chance_accuracy']:.0%})."]
    return "\n".join(lines) + "\n"


def times_table(timings: dict) -> str:
    """Seconds per notebook in each recorded mode, and when each was recorded."""
    modes = [mode for mode in MODES if mode in timings.get("modes", {})]
    notebooks = sorted({nb for mode in modes for nb in timings["modes"][mode]["seconds"]})
    lines = ["| mode | " + " | ".join(_number(nb) for nb in notebooks) + " | all |",
             "|---|" + "---|" * (len(notebooks) + 1)]
    for mode in modes:
        seconds = timings["modes"][mode]["seconds"]
        cells = [f"{seconds[nb]:,.0f}" if nb in seconds else "–" for nb in notebooks]
        lines.append(f"| {mode} | " + " | ".join(cells) + f" | {sum(seconds.values()):,.0f} |")
    lines.append("")
    lines += [f"- {mode}: {timings['modes'][mode]['recorded']}" for mode in modes]
    return "\n".join(lines) + "\n"


def render(name: str, root: Path | None = None) -> str:
    root = Path(root or config.repo_root())
    if name == "headlines":
        return headlines_table(_load(root, "metrics-full.json"))
    if name == "tuning":
        return tuning_table(_load(root, "metrics-full.json"))
    if name == "transfer":
        return transfer_table(_load(root, "metrics-full.json"))
    if name == "times":
        return times_table(_load(root, "timings.json"))
    raise ValueError(f"no README table named {name!r}; known: headlines, tuning, transfer, times")


def blocks(text: str) -> list[tuple[str, str]]:
    """``(name, current table)`` for every generated results block of ``text``."""
    return [(m.group(2), m.group(3)) for m in _BLOCK.finditer(text)]


def regenerate(text: str, root: Path | None = None) -> str:
    return _BLOCK.sub(lambda m: m.group(1) + render(m.group(2), root) + m.group(4), text)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    readme = config.repo_root() / "README.md"
    text = readme.read_text()
    new = regenerate(text)
    if argv == ["--check"]:
        stale = [name for (name, old), (_, fresh) in zip(blocks(text), blocks(new)) if old != fresh]
        if stale:
            print(f"{readme.name}: tables {stale} differ from results/: run `python -m course_tools.readme`")
            return 1
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    if new != text:
        readme.write_text(new)
    bench_changed = bench_results.sync_readme(readme)
    print(f"{readme.name}: " + ("regenerated" if new != text or bench_changed else "already up to date"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
