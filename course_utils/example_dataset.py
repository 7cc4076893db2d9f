"""A small "bring your own images" data set, generated on the spot, to practise checking and splitting.

Used by notebook 02 to demo :mod:`course_utils.check_dataset` and :mod:`course_utils.folder_split`.
The images are simple drawn shapes (circle, square, triangle, cross) on random colours, so they need no
download and every run with the same seed writes the same pixels. With ``bad_files=True`` (the default)
a few deliberately broken files are added, the kind that turn up in real collections:

==================================  ========  ===========================================
file                                severity  problem
==================================  ========  ===========================================
``circle/circle_corrupt.jpg``       error     a JPEG cut short (a download interrupted)
``square/square_empty.png``         error     a zero-byte file
``triangle/triangle_notes.png``     error     a text file renamed ``.png``
``square/square_dup.png``           error     a copy of ``circle/circle_000.png`` (two labels)
``circle/circle_really_png.jpg``    warning   PNG content behind a ``.jpg`` extension
``triangle/triangle_tiny.png``      warning   a 40x40 image (shortest edge < 256 px)
``cross/``                          warning   a class with only 5 images (fewer than 30)
==================================  ========  ===========================================

:data:`EXPECTED_PROBLEMS` lists them, so a notebook (or a test) can compare with the checker's report.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

SHAPES = ("circle", "square", "triangle")
SMALL_CLASS = "cross"
PER_CLASS = 30
SMALL_CLASS_SIZE = 5
IMAGE_SIZE = 256

#: (severity, file, fragment of the checker's message) for each deliberately bad file of the folder layout.
EXPECTED_PROBLEMS = [
    ("error", "circle/circle_corrupt.jpg", "truncated"),
    ("error", "square/square_empty.png", "empty file"),
    ("error", "triangle/triangle_notes.png", "not an image"),
    ("error", "square/square_dup.png", "two labels"),
    ("warning", "circle/circle_really_png.jpg", "content is PNG"),
    ("warning", "triangle/triangle_tiny.png", "small image"),
    ("warning", "cross/", "only 5 usable"),
]

#: The same for the CSV layout (file as reported: relative to the CSV's folder).
EXPECTED_CSV_PROBLEMS = [
    ("error", "images/missing_001.png", "file not found"),
    ("error", "images/unlabelled_001.png", "empty label"),
    ("error", "images/circle_002.png", "duplicated row"),
    ("error", "../outside.png", "leaves the data set"),
    ("error", "/etc/hostname", "absolute path"),
]


def draw_shape(shape: str, rng: np.random.Generator, size: int = IMAGE_SIZE):
    """One RGB PIL image of ``shape`` at a random place, size and colour on a random background."""
    from PIL import Image, ImageDraw

    background = tuple(int(v) for v in rng.integers(0, 256, 3))
    foreground = tuple(int((b + rng.integers(80, 176)) % 256) for b in background)   # always contrasting
    im = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(im)
    r = int(rng.uniform(0.18, 0.35) * size)
    cx, cy = (int(v) for v in rng.integers(r + 2, size - r - 2, 2))
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=foreground)
    elif shape == "square":
        draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=foreground)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=foreground)
    elif shape == "cross":
        w = max(2, r // 3)
        draw.rectangle([cx - r, cy - w, cx + r, cy + w], fill=foreground)
        draw.rectangle([cx - w, cy - r, cx + w, cy + r], fill=foreground)
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return im


def _new_folder(root: Path) -> Path:
    root = Path(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(f"{root}: exists and is not an empty folder; choose a new folder "
                              f"(the example data set never overwrites files)")
    root.mkdir(parents=True, exist_ok=True)
    return root


def _encode(im, fmt: str) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def make_example_dataset(root: str | os.PathLike, seed: int = 0, bad_files: bool = True,
                         per_class: int = PER_CLASS, size: int = IMAGE_SIZE) -> Path:
    """Write a class-folder data set of drawn shapes into the new or empty folder ``root``; return it.

    Three classes of ``per_class`` images (PNG and JPEG alternately) plus, with ``bad_files=True``, the
    broken files and the too-small class listed in the module docstring. ``bad_files=False`` gives a
    clean three-class set to split and train on.
    """
    root = _new_folder(root)
    rng = np.random.default_rng(seed)
    for shape in SHAPES:
        (root / shape).mkdir()
        for i in range(per_class):
            fmt, ext = ("PNG", "png") if i % 2 == 0 else ("JPEG", "jpg")
            (root / shape / f"{shape}_{i:03d}.{ext}").write_bytes(_encode(draw_shape(shape, rng, size), fmt))
    if not bad_files:
        return root

    (root / SMALL_CLASS).mkdir()
    for i in range(SMALL_CLASS_SIZE):
        (root / SMALL_CLASS / f"{SMALL_CLASS}_{i:03d}.png").write_bytes(_encode(draw_shape(SMALL_CLASS, rng, size), "PNG"))
    jpeg = _encode(draw_shape("circle", rng, size), "JPEG")
    (root / "circle" / "circle_corrupt.jpg").write_bytes(jpeg[: len(jpeg) // 2])          # cut short
    (root / "square" / "square_empty.png").write_bytes(b"")                                  # zero bytes
    (root / "triangle" / "triangle_notes.png").write_text("TODO: find more triangle pictures\n")  # text
    (root / "square" / "square_dup.png").write_bytes((root / "circle" / "circle_000.png").read_bytes())
    (root / "circle" / "circle_really_png.jpg").write_bytes(_encode(draw_shape("circle", rng, size), "PNG"))
    (root / "triangle" / "triangle_tiny.png").write_bytes(_encode(draw_shape("triangle", rng, 40), "PNG"))
    return root


def make_example_csv_dataset(root: str | os.PathLike, seed: int = 0, bad_rows: bool = True,
                             per_class: int = PER_CLASS, size: int = IMAGE_SIZE) -> Path:
    """Write the CSV layout into the new or empty folder ``root``; return the path of ``labels.csv``.

    ``root/images/<shape>_NNN.png`` and ``root/labels.csv`` (``filename,label``). Half the rows name
    the file relative to the CSV's folder (``images/circle_000.png``), half give the plain name, which the
    reader and the checker look up in ``images/`` (:mod:`course_utils.layouts`). With ``bad_rows=True`` the CSV also has the rows listed in
    :data:`EXPECTED_CSV_PROBLEMS` (a missing file, an empty label, a duplicated row, ``..`` and an
    absolute path; the last two are refused without being opened).
    """
    root = _new_folder(root)
    rng = np.random.default_rng(seed)
    (root / "images").mkdir()
    rows = []
    for shape in SHAPES:
        for i in range(per_class):
            name = f"{shape}_{i:03d}.png"
            (root / "images" / name).write_bytes(_encode(draw_shape(shape, rng, size), "PNG"))
            rows.append([f"images/{name}" if i % 2 == 0 else name, shape])
    if bad_rows:
        (root / "images" / "unlabelled_001.png").write_bytes(_encode(draw_shape("square", rng, size), "PNG"))
        rows += [["images/unlabelled_001.png", ""],      # an empty label
                 ["images/missing_001.png", "circle"],
                 ["images/circle_002.png", "circle"],    # the same row twice
                 ["../outside.png", "circle"],
                 ["/etc/hostname", "square"]]
    csv_path = root / "labels.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["filename", "label"])
        writer.writerows(rows)
    return csv_path
