"""Keep every notebook's header in step with the course: the "Open in Colab" badge, the setup cell's install
block (from ``config.REPOSITORY_URL`` and ``config.COURSE_REF``), the link to the executed notebook on the course
site, and the recorded run times.

A fork changes ``REPOSITORY_URL``; a release changes the version in ``pyproject.toml`` and ``config.COURSE_REF``;
a new recorded run updates ``results/timings.json``; then ``python -m course_tools.colab`` rewrites the notebooks.
``tests/test_colab.py`` fails while any notebook disagrees.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat

from course_utils import config
from .run import list_notebooks

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
_BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")
_INSTALL_BLOCK = re.compile(r"^REPO_URL = .*?\nexcept ImportError:.*?\n    import course_utils\n", re.DOTALL | re.MULTILINE)
#: notebooks whose package install needs an extra (KerasTuner and TensorBoard for 08)
EXTRAS = {"08_tuning": "tuning"}
_HEADER_LINE = re.compile(r"^\*\*Read it executed:\*\*.*$", re.MULTILINE)
TIMINGS = "results/timings.json"


def github_path(repository_url: str) -> str:
    """``https://github.com/owner/name`` -> ``owner/name``."""
    match = re.match(r"https://github\.com/([^/]+/[^/]+?)(?:\.git)?/?$", repository_url)
    if not match:
        raise ValueError(f"REPOSITORY_URL must look like https://github.com/owner/name, got {repository_url!r}")
    return match.group(1)


def badge_markdown(notebook_name: str, repository_url: str | None = None, branch: str = "main") -> str:
    repository_url = repository_url or config.REPOSITORY_URL
    target = f"https://colab.research.google.com/github/{github_path(repository_url)}/blob/{branch}/notebooks/{notebook_name}"
    return f"[![Open In Colab]({BADGE_IMAGE})]({target})"


def site_url(repository_url: str | None = None) -> str:
    """Where the workflow publishes the executed course: GitHub Pages of the repository."""
    owner, name = github_path(repository_url or config.REPOSITORY_URL).split("/")
    return f"https://{owner.lower()}.github.io/{name}/"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def load_timings(root: Path | None = None) -> dict:
    path = Path(root or config.repo_root() or ".") / TIMINGS
    return json.loads(path.read_text()) if path.exists() else {"modes": {}}


def header_line(notebook_stem: str, timings: dict | None = None) -> str:
    """The header line under the badge: the executed notebook online, and how long each mode took on a CPU."""
    timings = load_timings() if timings is None else timings
    times = []
    for mode in ("full", "lecture", "smoke"):
        seconds = timings.get("modes", {}).get(mode, {}).get("seconds", {}).get(notebook_stem)
        times.append(f"{mode} {_duration(seconds)}" if seconds is not None else f"{mode} not recorded yet")
    where = timings.get("machine", "a 2-core CPU")
    return (f"**Read it executed:** [this notebook with its outputs]({site_url()}{notebook_stem}.html) · "
            f"**Run time** on {where}: " + ", ".join(times) + " (see the README's results)")


def install_block(notebook_stem: str) -> str:
    """The setup cell's install guard: in Colab or Kaggle, install the package from the release this notebook
    belongs to (``COURSE_REF``; ``main``, loudly, if that fails) and show pip's output when it fails; elsewhere,
    say how to get a kernel that has the package."""
    extra = f"[{EXTRAS[notebook_stem]}]" if notebook_stem in EXTRAS else ""
    return f'''REPO_URL = "{config.REPOSITORY_URL}"  # one place: course_utils.config.REPOSITORY_URL
RELEASE = "{config.COURSE_REF}"  # the course release this notebook belongs to: Colab installs the package from it
try:
    import course_utils
except ImportError:
    if "google.colab" not in sys.modules and "KAGGLE_KERNEL_RUN_TYPE" not in os.environ:
        raise ImportError(f"course_utils is not installed for this kernel ({{sys.executable}}). In the course folder, "
                          "run `make lab` (or `python3 course.py lab`): JupyterLab with the course's own kernel. "
                          "Using another Jupyter? See 'Work through the course' in the README.") from None
    for ref in (RELEASE, "main"):  # main only if the release cannot be installed, and then loudly
        pip = subprocess.run([sys.executable, "-m", "pip", "install", f"course_utils{extra} @ git+{{REPO_URL}}.git@{{ref}}"],
                             capture_output=True, text=True)
        print(f"pip install course_utils from {{ref}}: " + ("done" if pip.returncode == 0 else "FAILED\\n" + pip.stderr[-2000:]))
        if pip.returncode == 0:
            break
    import course_utils
'''


def expected_sources(nb_path: Path) -> tuple[str, str, str]:
    return badge_markdown(nb_path.name), install_block(Path(nb_path).stem), header_line(Path(nb_path).stem)


def problems(nb_path: Path) -> list[str]:
    """What in this notebook disagrees with ``config.REPOSITORY_URL`` (empty when all is well)."""
    badge, repo_line, header = expected_sources(nb_path)
    nb = nbformat.read(nb_path, as_version=4)
    text_md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    text_code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    found = []
    if badge not in text_md:
        found.append(f"{nb_path.name}: the Colab badge does not point at {badge}")
    if repo_line not in text_code:
        found.append(f"{nb_path.name}: the setup cell's install block differs from course_tools.colab.install_block")
    if header not in nb.cells[0].source:
        found.append(f"{nb_path.name}: the first cell does not say {header}")
    return found


def sync(nb_path: Path) -> bool:
    """Rewrite the badge and the REPO_URL line; return True when the file changed."""
    badge, repo_line, header = expected_sources(nb_path)
    nb = nbformat.read(nb_path, as_version=4)
    changed = False
    for cell in nb.cells:
        new = (_BADGE.sub(badge, cell.source) if cell.cell_type == "markdown"
               else _INSTALL_BLOCK.sub(lambda _: repo_line, cell.source))
        if new != cell.source:
            cell.source, changed = new, True
    first = nb.cells[0]
    if header not in first.source:
        if _HEADER_LINE.search(first.source):
            first.source = _HEADER_LINE.sub(lambda _: header, first.source)
        else:  # right under the badge
            first.source = _BADGE.sub(lambda m: m.group(0) + "\n\n" + header, first.source, count=1)
        changed = True
    if changed:
        nbformat.write(nb, nb_path)
    return changed


def record_timings(summary: Path, when: str, root: Path | None = None) -> Path:
    """Take each notebook's seconds from a course run's ``summary.json`` into ``results/timings.json``.

    Refuses a run with a failed notebook or one that ran on fallback data: its times say nothing about the course.
    """
    run = json.loads(Path(summary).read_text())
    bad = [r["notebook"] for r in run["notebooks"]
           if r.get("error") or r.get("metrics", {}).get("dataset") == "digits"]
    if bad:
        raise SystemExit(f"{summary}: not recording times: {', '.join(bad)} failed or ran on the fallback data")
    path = Path(root or config.repo_root() or ".") / TIMINGS
    timings = load_timings(root)
    entry = timings.setdefault("modes", {}).setdefault(run["mode"], {"seconds": {}})
    entry["seconds"].update({r["notebook"]: round(r["seconds"]) for r in run["notebooks"]})
    entry["recorded"] = when
    path.write_text(json.dumps(timings, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    argv = list(argv or [])
    if argv[:1] == ["--record"]:  # --record build/smoke/summary.json "2026-11-25, make course MODE=smoke"
        print(f"recorded in {record_timings(Path(argv[1]), argv[2])}")
    for nb in list_notebooks():
        if sync(nb):
            print(f"updated {nb.name}")
    remaining = [p for nb in list_notebooks() for p in problems(nb)]
    print("\n".join(remaining) or f"all notebooks point at {config.REPOSITORY_URL}")
    return 1 if remaining else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
