"""Record a notebook's expected outputs: run it in smoke mode, keep only the nbval-checked cells' outputs.

    python -m course_tools.record 01 [02 ...]      # rewrites notebooks/NN_*.ipynb in place

Committed notebooks stay lean and free of machine paths, and nbval has outputs to compare with.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import nbformat

from .run import execute_notebook, list_notebooks

CHECK_MARK = "NBVAL_CHECK_OUTPUT"


def lean_copy(executed: Path, target: Path) -> None:
    nb = nbformat.read(executed, as_version=4)
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    nb.metadata.pop("widgets", None)  # widget state of this one run (random ids); the committed copy has no outputs
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        if CHECK_MARK in cell.source:
            # nbval treats a cell with outputs but no execution count as unrun: give checked cells count 1
            cell.execution_count = 1
            for out in cell.outputs:
                if "execution_count" in out:
                    out["execution_count"] = 1
        else:
            cell.execution_count = None
            cell.outputs = []
    nb.metadata.pop("papermill", None)
    nbformat.write(nb, target)


def main(argv: list[str]) -> int:
    for selection in argv or [None]:
        for nb in list_notebooks(selection):
            with tempfile.TemporaryDirectory() as tmp:
                result = execute_notebook(nb, "smoke", Path(tmp) / "out", Path(tmp) / "artifacts")
                if result.error:
                    print(f"{nb.name}: FAILED, not recorded: {result.error}")
                    return 1
                if result.metrics.get("dataset") == "digits":
                    print(f"{nb.name}: ran on the digits fallback; record on the real data (COURSE_DATA_DIR)")
                    return 1
                lean_copy(result.output, nb)
                print(f"{nb.name}: recorded ({result.seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
