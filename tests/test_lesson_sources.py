"""One source of truth: a function a notebook teaches and the package keeps for later use is the same code.

A notebook cell that defines such a function starts with a line like::

    # Also in course_utils.models (a test keeps the two the same)

Every function and class that cell defines must exist in that module with the same code (docstrings and
comments aside: the package's may say more). Edit one, and this test fails until the other matches.
"""
import ast
import importlib
import inspect
import re
import textwrap

import nbformat
import pytest

from course_tools.run import list_notebooks

MARKER = re.compile(r"^# Also in (course_utils\.\w+)\b")


def _without_docstrings(node: ast.AST) -> str:
    node = ast.parse(ast.unparse(node))  # a fresh copy
    for item in ast.walk(node):
        body = getattr(item, "body", None)
        if (isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            item.body = body[1:] or [ast.Pass()]
    return ast.dump(node, include_attributes=False)


def taught_definitions():
    """(notebook, module name, definition node) for every marked cell's top-level def/class."""
    found = []
    for path in list_notebooks():
        for cell in nbformat.read(path, as_version=4).cells:
            match = MARKER.match(cell.source) if cell.cell_type == "code" else None
            if not match:
                continue
            tree = ast.parse(cell.source)
            definitions = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
            assert definitions, f"{path.name}: a cell marked '{match.group(0)}' defines nothing"
            found += [(path.stem, match.group(1), node) for node in definitions]
    return found


def mismatch(module_name: str, node: ast.AST) -> str | None:
    """Why the notebook's definition differs from the package's, or None when they are the same code."""
    module = importlib.import_module(module_name)
    if not hasattr(module, node.name):
        return f"{module_name} has no {node.name}"
    library = ast.parse(textwrap.dedent(inspect.getsource(getattr(module, node.name)))).body[0]
    if _without_docstrings(library) != _without_docstrings(node):
        return (f"{module_name}.{node.name} differs from the notebook's:\n--- package\n{ast.unparse(library)}"
                f"\n--- notebook\n{ast.unparse(node)}")
    return None


TAUGHT = taught_definitions()


@pytest.mark.parametrize("notebook,module,node", TAUGHT, ids=[f"{nb}:{m}.{n.name}" for nb, m, n in TAUGHT])
def test_notebook_and_package_define_the_same_code(notebook, module, node):
    problem = mismatch(module, node)
    assert problem is None, f"{notebook}: {problem}"


def test_the_comparison_sees_a_changed_line_and_ignores_docstrings():
    from course_utils import models

    source = textwrap.dedent(inspect.getsource(models.fashion_reference_cnn))
    node = ast.parse(source).body[0]
    assert mismatch("course_utils.models", node) is None
    documented = ast.parse(source.replace('"""', '"""Another docstring. ', 1)).body[0]
    assert mismatch("course_utils.models", documented) is None
    changed = ast.parse(re.sub(r"Conv2D\(64\b", "Conv2D(65", source, count=1)).body[0]
    assert mismatch("course_utils.models", changed) is not None


def test_the_lessons_that_the_package_reuses_are_taught():
    """The package's copies of lesson code are each taught in a notebook (03 pipeline, 04 model, 05 training)."""
    modules = {module for _, module, _ in TAUGHT}
    assert {"course_utils.pipeline", "course_utils.models", "course_utils.train"} <= modules, modules
