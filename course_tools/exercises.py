"""Exercise copies of the notebooks, without solutions (as fastbook's clean copies).

    python course.py exercises        # or: make exercises  ->  build/exercises/NN_*.ipynb

Solutions live in the notebooks collapsed, either as ``<details>…</details>`` blocks in markdown or as code
cells tagged ``solution``; the copies drop both and keep every exercise's question. Each copy's "Open in Colab"
badge opens the copy itself: the workflow publishes them on the ``exercises`` branch, in ``notebooks/``.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

from course_utils import config
from .colab import _BADGE, badge_markdown
from .run import list_notebooks

SOLUTION_TAG = "solution"
#: the branch the workflow publishes the exercise copies to (``notebooks/NN_*.ipynb`` there)
EXERCISES_BRANCH = "exercises"
_DETAILS = re.compile(r"\n?<details>.*?</details>\n?", re.DOTALL | re.IGNORECASE)


def has_solution(cell) -> bool:
    return SOLUTION_TAG in cell.metadata.get("tags", []) or bool(_DETAILS.search(cell.source))


def strip_solutions(nb):
    """A copy of ``nb`` with solution cells removed and ``<details>`` blocks cut out of markdown."""
    clean = nbformat.from_dict(nb)
    cells = []
    for cell in clean.cells:
        if SOLUTION_TAG in cell.metadata.get("tags", []):
            continue
        if cell.cell_type == "markdown":
            cell.source = _DETAILS.sub("\n", cell.source).rstrip() + "\n"
        cells.append(cell)
    clean.cells = cells
    return clean


def write_exercise_copies(out_dir: Path | None = None) -> list[Path]:
    out_dir = Path(out_dir) if out_dir else config.repo_root() / "build" / "exercises"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for nb_path in list_notebooks():
        nb = strip_solutions(nbformat.read(nb_path, as_version=4))
        badge = badge_markdown(nb_path.name, branch=EXERCISES_BRANCH)
        nb.cells[0].source = _BADGE.sub(lambda _: badge, nb.cells[0].source)
        target = out_dir / nb_path.name
        nbformat.write(nb, target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    for path in write_exercise_copies():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
