"""The architecture in the folders: ``course_utils`` (what learners import) never imports ``course_tools`` (the
course's machinery), and ``plots`` draws plain data without importing the rest of the library."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = sorted((ROOT / "course_utils").glob("*.py"))
TOOLING_ONLY = ("course_tools", "papermill", "nbformat", "nbval", "nbconvert")


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function; relative imports as ``course_utils.<name>``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = "course_utils" + (f".{node.module}" if node.module else "")
                names.update([base] if node.module else [f"course_utils.{a.name}" for a in node.names])
            else:
                names.add(node.module)
    return names


def test_the_scan_sees_imports_inside_functions(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom . import data\ndef f():\n    from course_tools.run import main\n    from .tuning import x\n")
    assert imported_modules(sample) == {"os", "course_utils.data", "course_tools.run", "course_utils.tuning"}


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.name)
def test_the_library_never_imports_the_tooling(path):
    bad = sorted(m for m in imported_modules(path) if m.split(".")[0] in TOOLING_ONLY)
    assert not bad, f"course_utils/{path.name} imports {bad}: the course's machinery belongs in course_tools/"


def test_plots_take_plain_data():
    own = sorted(m for m in imported_modules(ROOT / "course_utils" / "plots.py") if m.startswith("course_utils"))
    assert not own, f"plots imports {own}: pass it arrays and tables instead"


def test_every_tooling_module_is_importable_without_a_notebook():
    import importlib

    for path in sorted((ROOT / "course_tools").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        importlib.import_module(module)
