"""The Colab experience: badges and install URL from one place, and the setup cell's Colab branch."""
import importlib.abc
import subprocess
import sys
import types

import nbformat
import pytest

from course_tools import colab
from course_utils import config
from course_tools.run import list_notebooks

NOTEBOOKS = list_notebooks()


def _setup_cell(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code" and "REPO_URL =" in c.source)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_badge_and_install_url_come_from_repository_url(nb):
    assert colab.problems(nb) == []


def test_sync_rewrites_a_fork(tmp_path, monkeypatch):
    copy = tmp_path / NOTEBOOKS[0].name
    copy.write_text(NOTEBOOKS[0].read_text())
    monkeypatch.setattr(config, "REPOSITORY_URL", "https://github.com/someone/fork")
    assert colab.problems(copy)
    assert colab.sync(copy)
    assert colab.problems(copy) == []
    assert "colab.research.google.com/github/someone/fork/blob/main/notebooks/" in copy.read_text()


class _BlockCourseUtils(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "course_utils" or name.startswith("course_utils."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None


@pytest.fixture
def course_utils_not_installed(monkeypatch):
    saved = {k: v for k, v in sys.modules.items() if k == "course_utils" or k.startswith("course_utils.")}
    for k in saved:
        del sys.modules[k]
    blocker = _BlockCourseUtils()
    sys.meta_path.insert(0, blocker)
    yield blocker
    if blocker in sys.meta_path:
        sys.meta_path.remove(blocker)
    for k in [k for k in sys.modules if k == "course_utils" or k.startswith("course_utils.")]:
        del sys.modules[k]
    sys.modules.update(saved)


def _fake_pip(monkeypatch, not_installed, fail_refs=()):
    """Stand in for the network install: record pip commands, fail those naming a ref in ``fail_refs``."""
    calls = []
    real_run = subprocess.run

    def fake(cmd, *args, **kwargs):
        if "pip" not in cmd:
            return real_run(cmd, *args, **kwargs)
        calls.append(cmd)
        if any(cmd[-1].endswith(f"@{ref}") for ref in fail_refs):
            return subprocess.CompletedProcess(cmd, 1, stdout="", stderr="ERROR: no such tag (from the fake pip)")
        if not_installed in sys.meta_path:
            sys.meta_path.remove(not_installed)
        return subprocess.CompletedProcess(cmd, 0, stdout="", stderr="")

    monkeypatch.setattr(subprocess, "run", fake)
    return calls


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_setup_cell_installs_this_release_in_colab(nb, course_utils_not_installed, monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    calls = _fake_pip(monkeypatch, course_utils_not_installed)
    namespace = {}
    exec(_setup_cell(nb), namespace)
    assert len(calls) == 1 and calls[0][1:4] == ["-m", "pip", "install"]
    assert calls[0][-1].endswith(f"git+{config.REPOSITORY_URL}.git@{config.COURSE_REF}")
    assert ("[tuning]" in calls[0][-1]) == (nb.stem == "08_tuning"), "08 needs KerasTuner, the others do not"
    assert "course_utils" in namespace


def test_kaggle_is_recognised_and_a_failed_install_shows_why(course_utils_not_installed, monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    calls = _fake_pip(monkeypatch, course_utils_not_installed, fail_refs=(config.COURSE_REF,))
    exec(_setup_cell(NOTEBOOKS[0]), {})
    out = capsys.readouterr().out
    assert [c[-1].rsplit("@", 1)[1] for c in calls] == [config.COURSE_REF, "main"], "the release first, then main"
    assert f"from {config.COURSE_REF}: FAILED" in out and "no such tag (from the fake pip)" in out
    assert "from main: done" in out


@pytest.mark.parametrize("nb", NOTEBOOKS[:1], ids=[p.stem for p in NOTEBOOKS[:1]])
def test_setup_cell_outside_colab_says_how_to_get_the_kernel(nb, course_utils_not_installed, monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE", raising=False)
    with pytest.raises(ImportError, match=r"not installed for this kernel .*make lab.*Work through the course"):
        exec(_setup_cell(nb), {})


def test_setup_cell_skips_install_when_present(monkeypatch):
    real_run = subprocess.run

    def no_pip(cmd, *args, **kwargs):
        assert "pip" not in cmd, "must not install when course_utils is present"
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", no_pip)
    exec(_setup_cell(NOTEBOOKS[0]), {})


def test_no_gpu_warning_names_the_colab_menu(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    info = config.print_setup("smoke")
    out = capsys.readouterr().out
    if not info["gpus"]:
        assert "Runtime > Change runtime type" in out
    assert "TensorFlow" in out and "mode: smoke" in out


def test_header_says_where_to_read_it_and_how_long_each_mode_takes():
    timings = {"machine": "M", "modes": {"full": {"seconds": {"05_x": 981}}, "smoke": {"seconds": {"05_x": 55}}}}
    line = colab.header_line("05_x", timings)
    assert f"]({colab.site_url()}05_x.html)" in line
    assert "on M: full 16 min, lecture not recorded yet, smoke 55 s" in line
    assert colab.site_url("https://github.com/Some-One/fork") == "https://some-one.github.io/fork/"


def test_recording_timings_refuses_failed_or_fallback_runs(tmp_path):
    import json

    (tmp_path / "results").mkdir()
    summary = tmp_path / "summary.json"
    rows = [{"notebook": "01_a", "seconds": 20.4, "error": None, "metrics": {"dataset": "fashion_mnist"}}]
    summary.write_text(json.dumps({"mode": "smoke", "notebooks": rows}))
    colab.record_timings(summary, "today", root=tmp_path)
    assert colab.load_timings(tmp_path)["modes"]["smoke"] == {"seconds": {"01_a": 20}, "recorded": "today"}
    rows.append({"notebook": "02_b", "seconds": 3, "error": None, "metrics": {"dataset": "digits"}})
    summary.write_text(json.dumps({"mode": "smoke", "notebooks": rows}))
    with pytest.raises(SystemExit, match="02_b failed or ran on the fallback data"):
        colab.record_timings(summary, "later", root=tmp_path)
