"""Split a class-folder data set of your own images into train/val/test, without touching the original.

Taught in notebook 02 ("Bring your own images"). A class-folder data set is one sub-folder per class,
images inside, also in sub-folders (read by :func:`course_utils.image_folders.list_class_folders`)::

    my_images/cat/001.jpg  my_images/cat/002.jpg  ...  my_images/dog/001.jpg ...

:func:`split_folder_dataset` makes a stratified, seeded split (each class keeps its share in every part,
the same seed gives the same split) through :func:`course_utils.data.train_val_test_split`, and writes a
NEW folder tree::

    dest/train/<class>/...   dest/val/<class>/...   dest/test/<class>/...   (sub-folders kept)

(``mode="copy"``) or just ``dest/split.csv`` with ``filename,label,split`` rows whose file names are
relative to ``src`` (``mode="index"``). It never writes inside ``src``, and never replaces an existing
split unless asked to with ``overwrite=True``.
"""
from __future__ import annotations

import csv
import os
import shutil
import warnings
from pathlib import Path

from . import config
from .data import train_val_test_split
from .layouts import LINK_OUTSIDE, ImageFolderError, is_inside, scan_class_folders

SPLITS = ("train", "val", "test")
INDEX_FILE = "split.csv"


class SplitError(ValueError):
    """The data set cannot be split as asked; the message names the folder or file and the problem."""


def list_split_sources(src: str | os.PathLike) -> tuple[list[Path], list[str], list[str]]:
    """The images to split: ``(paths relative to src, labels, skipped)``.

    Listed by the course's reader's rules (:func:`course_utils.layouts.scan_class_folders`: the image files
    below each class folder, hidden files skipped), except that a symbolic link pointing outside ``src``
    is skipped (never read) and named in ``skipped`` instead of stopping the split; any other error in
    the layout (an empty class folder, a broken link) raises :class:`SplitError`.
    """
    src = Path(src)
    try:
        listing = scan_class_folders(src)
    except ImageFolderError as exc:
        raise SplitError(str(exc)) from exc
    skipped = []
    for finding in listing.errors:
        if finding.message != LINK_OUTSIDE:
            raise SplitError(finding.error)
        skipped.append(f"{finding.file} (symbolic link pointing outside {src})")
    images = listing.images
    return [Path(e.file) for e in images], [e.label for e in images], skipped


def _check_destination(src: Path, dest: Path, overwrite: bool) -> None:
    if is_inside(dest, src):
        raise SplitError(f"{dest}: the destination lies inside the data set {src}; choose a folder outside it "
                         f"(the original images are never modified, and a split inside them would be read "
                         f"as extra classes)")
    if is_inside(src, dest):
        raise SplitError(f"{dest}: the destination contains the data set {src}; choose a separate, new folder")
    if dest.exists() and not dest.is_dir():
        raise SplitError(f"{dest}: exists and is not a folder")
    if dest.is_dir() and any(dest.iterdir()) and not overwrite:
        raise SplitError(f"{dest}: folder exists and is not empty; choose a new folder or pass overwrite=True "
                         f"to replace its {'/'.join(SPLITS)} folders and {INDEX_FILE}")


def split_folder_dataset(src: str | os.PathLike, dest: str | os.PathLike, fractions=(0.70, 0.15, 0.15),
                         seed: int = config.DEFAULT_SEED, overwrite: bool = False, mode: str = "copy") -> dict:
    """Stratified, seeded train/val/test split of the class-folder data set ``src`` into ``dest``.

    ``mode="copy"`` copies each image to ``dest/<split>/<its path in src>`` (``<class>/[sub-folders/]<file>``);
    ``mode="index"`` writes only ``dest/split.csv`` (``filename,label,split``; file names relative to
    ``src``, with ``/``). ``dest`` must not lie inside ``src`` (nor contain it) and must be new or empty,
    unless ``overwrite=True``, which replaces only ``dest/train``, ``dest/val``, ``dest/test`` and
    ``dest/split.csv``. Returns the counts, ``{"train": {class: n, ...}, "val": {...}, "test": {...}}``.
    Raises :class:`SplitError` naming the folder and the problem (nothing is written in that case).
    """
    if mode not in ("copy", "index"):
        raise ValueError(f"mode must be 'copy' or 'index', got {mode!r}")
    src, dest = Path(src), Path(dest)
    files, labels, skipped = list_split_sources(src)
    _check_destination(src, dest, overwrite)
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise SplitError(f"{src}: found {len(classes)} class folder(s) with images ({', '.join(classes) or 'none'}); "
                         f"a classifier needs at least two (one sub-folder per class)")
    counts = {c: labels.count(c) for c in classes}
    smallest = min(classes, key=counts.get)
    try:
        parts = train_val_test_split([f.as_posix() for f in files], labels, fractions=fractions, seed=seed)
    except ValueError as exc:
        if "fractions" in str(exc):
            raise
        raise SplitError(f"{src}: cannot make a stratified {fractions} split of {len(files)} images in "
                         f"{len(classes)} classes (smallest: '{smallest}' with {counts[smallest]} images); "
                         f"add images to the small classes ({exc})") from exc
    if skipped:
        warnings.warn(f"{src}: skipped {len(skipped)} file(s): " + "; ".join(skipped[:10])
                      + (" ..." if len(skipped) > 10 else ""), stacklevel=2)

    dest.mkdir(parents=True, exist_ok=True)
    if overwrite:
        for name in SPLITS:
            if (dest / name).is_symlink() or (dest / name).is_file():
                (dest / name).unlink()
            elif (dest / name).is_dir():
                shutil.rmtree(dest / name)
        if (dest / INDEX_FILE).exists():
            (dest / INDEX_FILE).unlink()

    result = {}
    rows = []
    for split, (names, split_labels) in zip(SPLITS, parts):
        result[split] = {c: 0 for c in classes}
        for name, label in sorted(zip(names, split_labels)):
            result[split][label] += 1
            rows.append((name, label, split))
            if mode == "copy":
                target = dest / split / name     # <class>/[sub-folders/]<file>, as in src
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src / name, target)   # content only: follows links, keeps src untouched
    if mode == "index":
        with open(dest / INDEX_FILE, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["filename", "label", "split"])
            writer.writerows(rows)
    return result


def format_counts(counts: dict) -> str:
    """A small table of a split's counts (classes as rows, splits as columns)."""
    classes = sorted({c for per_class in counts.values() for c in per_class})
    width = max([len(c) for c in classes] + [5])
    lines = [f"{'class':<{width}} " + " ".join(f"{s:>6}" for s in counts)]
    for c in classes:
        lines.append(f"{c:<{width}} " + " ".join(f"{counts[s].get(c, 0):>6}" for s in counts))
    lines.append(f"{'total':<{width}} " + " ".join(f"{sum(counts[s].values()):>6}" for s in counts))
    return "\n".join(lines)
