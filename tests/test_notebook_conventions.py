"""Structure every notebook shares (CONTRIBUTING.md), and the exercise copies without solutions."""
import re

import nbformat
import pytest

from course_tools.exercises import has_solution, strip_solutions, write_exercise_copies
from course_tools.run import list_notebooks

NOTEBOOKS = list_notebooks()
IDS = [p.stem for p in NOTEBOOKS]
RUN_LINE = ("run = Run(MODE, seed=SEED, data_dir=DATA_DIR, build_dir=BUILD_DIR, artifacts_dir=ARTIFACTS_DIR,\n"
            "          precision=PRECISION)")


def _read(path):
    return nbformat.read(path, as_version=4)


def test_notebooks_are_numbered_in_order():
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(1, len(numbers) + 1))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_shape(path):
    nb = _read(path)
    md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(f"# {path.name[:2]} ·")
    assert "## Overview" in md and "## Summary" in md and "## Exercises" in md
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    assert 'os.environ.get("COURSE_MODE", "full")' in params[0].source
    assert 'os.environ.get("COURSE_DATA_DIR")' in params[0].source
    assert 'BUILD_DIR = None' in params[0].source and 'ARTIFACTS_DIR = None' in params[0].source
    assert 'PRECISION = None' in params[0].source, "the runner and the tests force the GPU path through it"
    assert RUN_LINE in code, "one run context, made right under the parameters cell"
    assert f'run.save_metrics("{path.stem}"' in code
    assert any(has_solution(c) for c in nb.cells), "exercises come with (collapsed) solutions"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_code_cell_is_explained(path):
    cells = _read(path).cells
    for i, cell in enumerate(cells):
        if cell.cell_type == "code" and i > 0 and "parameters" not in cell.metadata.get("tags", []):
            previous = cells[i - 1]
            assert previous.cell_type == "markdown" or "parameters" in previous.metadata.get("tags", []), (
                f"{path.name}: code cell {i} has no sentence of why before it:\n{cell.source[:120]}")


def test_exercise_copies_contain_no_solutions(tmp_path):
    written = write_exercise_copies(tmp_path)
    assert [p.name for p in written] == [p.name for p in NOTEBOOKS]
    for path in written:
        nb = _read(path)
        assert not any(has_solution(c) for c in nb.cells), path.name
        text = path.read_text()
        assert "<details>" not in text and "Solution" not in text
        assert "## Exercises" in text, "the questions stay"
        assert f"/blob/exercises/notebooks/{path.name})" in nb.cells[0].source, "the copy's badge opens the copy"
        assert "/blob/main/" not in nb.cells[0].source


def test_strip_solutions_handles_tagged_cells():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("1. Do X.\n<details><summary>Solution</summary>\nsecret\n</details>\n2. Do Y."),
        nbformat.v4.new_code_cell("answer = 42", metadata={"tags": ["solution"]}),
        nbformat.v4.new_code_cell("keep = 1"),
    ])
    clean = strip_solutions(nb)
    assert [c.source.strip() for c in clean.cells] == ["1. Do X.\n2. Do Y.", "keep = 1"]
    assert len(nb.cells) == 3, "the original is untouched"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_code_cell_branches_on_the_mode(path):
    """The mode reaches the lesson only through the run context (run.by_mode, run.load_or_train, ...)."""
    for i, cell in enumerate(_read(path).cells):
        if cell.cell_type != "code" or "parameters" in cell.metadata.get("tags", []):
            continue
        code = cell.source.replace(RUN_LINE, "")
        assert not re.search(r"\bMODE\b", code), f"{path.name}: code cell {i} uses MODE:\n{cell.source[:200]}"
        assert "COURSE_" not in code, f"{path.name}: code cell {i} reads a COURSE_* variable"


def test_the_mode_check_can_fail():
    assert re.search(r"\bMODE\b", 'x = 1 if MODE == "lecture" else 2')
