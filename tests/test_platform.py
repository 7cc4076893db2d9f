"""Where the course runs: the Python versions course.py accepts are the ones pyproject.toml declares, the
notebooks name the kernel the set-up registers, and the release Colab installs is the package's version."""
import ast
import importlib.util
import re
import tomllib
from pathlib import Path

import nbformat
import pytest

from course_utils import config

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _course_py():
    spec = importlib.util.spec_from_file_location("course_entry", ROOT / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


course = _course_py()


@pytest.mark.parametrize("version", [(3, 10), (3, 14), (2, 7)])
def test_unsupported_pythons_get_advice_not_a_pip_error(version):
    message = course.check_python(version, system="Linux", machine="x86_64")
    assert message and "3.11 to 3.13" in message and "course.py" in message


@pytest.mark.parametrize("version", [(3, 11), (3, 12), (3, 13)])
def test_supported_pythons_pass(version):
    assert course.check_python(version, system="Linux", machine="x86_64") is None
    assert course.check_python(version, system="Windows", machine="AMD64") is None
    assert course.check_python(version, system="Darwin", machine="arm64") is None


def test_intel_macs_are_sent_to_colab():
    assert "Colab" in course.check_python((3, 12), system="Darwin", machine="x86_64")


def test_requires_python_says_what_course_py_checks():
    (low_major, low_minor), (high_major, high_minor) = course.SUPPORTED_PYTHON
    assert PYPROJECT["project"]["requires-python"] == f">={low_major}.{low_minor},<{high_major}.{high_minor + 1}"
    assert f"Python {low_major}.{low_minor}-{high_major}.{high_minor}" in (ROOT / "requirements.txt").read_text()


def test_the_virtual_environment_python_on_windows_and_elsewhere(tmp_path):
    assert course.venv_python(tmp_path, windows=True) == tmp_path / "Scripts" / "python.exe"
    assert course.venv_python(tmp_path, windows=False) == tmp_path / "bin" / "python"


def test_colab_installs_the_release_of_this_version():
    import course_utils

    assert config.COURSE_REF == "v" + PYPROJECT["project"]["version"] == "v" + course_utils.__version__


def test_every_import_the_package_makes_is_declared():
    """What course_utils imports from outside the standard library is a dependency (or the tuning extra)."""
    import sys

    declared = {re.split(r"[<>=!\[ ;]", d)[0].lower().replace("-", "_")
                for d in PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["tuning"]}
    import_names = {"sklearn": "scikit_learn", "PIL": "pillow", "keras_tuner": "keras_tuner", "yaml": "pyyaml"}
    undeclared = set()
    for path in (ROOT / "course_utils").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                tops = [node.module.split(".")[0]]
            else:
                continue
            top = tops[0]
            if top in sys.stdlib_module_names or top in ("course_utils", "__future__"):
                continue
            if import_names.get(top, top).lower() not in declared:
                undeclared.add(f"{top} ({path.name})")
    assert not undeclared, f"imported but not in pyproject.toml: {sorted(undeclared)}"


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_notebooks_name_the_course_kernel(path):
    """Opening a notebook with `make lab` (the set-up's kernel) and saving it leaves its metadata unchanged."""
    spec = nbformat.read(path, as_version=4).metadata["kernelspec"]
    assert (spec["name"], spec["display_name"]) == (course.KERNEL_NAME, course.KERNEL_DISPLAY_NAME)
