"""Keep every notebook's "Open in Colab" badge and install URL in step with ``config.REPOSITORY_URL``.

A fork changes that one line, then runs ``python -m course_utils.colab`` to rewrite the notebooks;
``tests/test_colab.py`` fails while any notebook disagrees.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

from . import config
from .run import list_notebooks

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
_BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")
_REPO_LINE = re.compile(r'^REPO_URL = "[^"]*"', re.MULTILINE)


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


def expected_sources(nb_path: Path) -> tuple[str, str]:
    return badge_markdown(nb_path.name), f'REPO_URL = "{config.REPOSITORY_URL}"'


def problems(nb_path: Path) -> list[str]:
    """What in this notebook disagrees with ``config.REPOSITORY_URL`` (empty when all is well)."""
    badge, repo_line = expected_sources(nb_path)
    nb = nbformat.read(nb_path, as_version=4)
    text_md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    text_code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    found = []
    if badge not in text_md:
        found.append(f"{nb_path.name}: the Colab badge does not point at {badge}")
    if repo_line not in text_code:
        found.append(f"{nb_path.name}: the setup cell does not say {repo_line}")
    return found


def sync(nb_path: Path) -> bool:
    """Rewrite the badge and the REPO_URL line; return True when the file changed."""
    badge, repo_line = expected_sources(nb_path)
    nb = nbformat.read(nb_path, as_version=4)
    changed = False
    for cell in nb.cells:
        new = _BADGE.sub(badge, cell.source) if cell.cell_type == "markdown" else _REPO_LINE.sub(repo_line, cell.source)
        if new != cell.source:
            cell.source, changed = new, True
    if changed:
        nbformat.write(nb, nb_path)
    return changed


def main(argv: list[str] | None = None) -> int:
    for nb in list_notebooks():
        if sync(nb):
            print(f"updated {nb.name}")
    remaining = [p for nb in list_notebooks() for p in problems(nb)]
    print("\n".join(remaining) or f"all notebooks point at {config.REPOSITORY_URL}")
    return 1 if remaining else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
