"""Images on disk in the two layouts most data sets come in: one folder per class, or a CSV of labels.

Taught in notebook 02 ("Images on disk"); the data-set checker builds on the listing functions.

Layout 1, one folder per class (what ``keras.utils.image_dataset_from_directory`` reads)::

    root/
      Ankle boot/00017.png
      T-shirt_top/00000.png     <- "T-shirt/top" made filesystem-safe by safe_class_name()
      ...

Layout 2, a CSV of labels beside the images::

    root/
      labels.csv                <- header "filename,label"; filenames relative to this folder
      images/00000.png

Readers return ``(x, y, class_names)`` with ``x`` uint8 of shape (N, H, W) for ``color_mode="grayscale"``
or (N, H, W, 3) for ``"rgb"``. Every problem raises :class:`ImageFolderError` naming the file or folder.
Writers never delete anything that they did not write themselves.
"""
from __future__ import annotations

import csv
import os
import re
import shutil
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np

#: Extensions read as images (the same as ``keras.utils.image_dataset_from_directory``).
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
COLOR_MODES = ("grayscale", "rgb")
CSV_HEADER = ("filename", "label")
CSV_NAME = "labels.csv"
CSV_IMAGES = "images"


class ImageFolderError(ValueError):
    """A folder, CSV or image file is missing or unusable: the message names it and says what is wrong."""


# --- names -------------------------------------------------------------------------------------

def safe_class_name(name: str) -> str:
    """A folder name for a class: anything but letters, digits, space, ``-``, ``_`` and ``.`` becomes ``_``.

    ``"T-shirt/top"`` -> ``"T-shirt_top"``. Leading dots are replaced too, so no name is hidden or ``..``.
    """
    safe = re.sub(r"[^\w\- .]", "_", str(name)).strip()
    safe = re.sub(r"^\.", "_", safe)
    if not safe:
        raise ImageFolderError(f"class name {name!r} gives an empty folder name")
    return safe


def _folder_names(class_names) -> list[str]:
    names = [safe_class_name(c) for c in class_names]
    seen: dict[str, str] = {}
    for original, safe in zip(class_names, names):
        if safe.lower() in seen:  # also catches names that only differ in case (Windows, macOS)
            raise ImageFolderError(f"class names {seen[safe.lower()]!r} and {original!r} would share the "
                                   f"folder {safe!r}; rename one of them")
        seen[safe.lower()] = original
    return names


# --- writing -----------------------------------------------------------------------------------

def _check_arrays(x, y, class_names) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x)
    y = np.asarray(y)
    if x.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (0-255), got {x.dtype}; convert with "
                         "np.clip(x, 0, 255).astype('uint8') (multiply by 255 first if they are in [0, 1])")
    if not (x.ndim == 3 or (x.ndim == 4 and x.shape[-1] in (1, 3))):
        raise ValueError(f"images must have shape (N, H, W), (N, H, W, 1) or (N, H, W, 3), got {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"need one integer label per image: {len(x)} images but labels of shape {y.shape}")
    if len(y) and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= len(class_names)):
        raise ValueError(f"labels must be integers in 0..{len(class_names) - 1} "
                         f"(one per class name), got values {np.unique(y)[:10].tolist()}")
    return x, y


def _to_pil(image: np.ndarray):
    from PIL import Image

    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    return Image.fromarray(image, mode="L" if image.ndim == 2 else "RGB")


def _unexpected_entries(root: Path, allowed) -> list[Path]:
    """Entries under ``root`` that ``allowed(relative_path)`` rejects (symlinks are always unexpected)."""
    bad = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_symlink() or not allowed(rel, path):
            bad.append(path)
    return bad


def _prepare_root(root, overwrite: bool, allowed, writer: str) -> Path:
    """Create ``root``; when it is not empty, clear it only with ``overwrite`` and only if it holds our files."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise ImageFolderError(f"{root}: exists and is not a folder; choose another place for the images")
    if root.is_dir() and any(root.iterdir()):
        if not overwrite:
            raise ImageFolderError(f"{root}: folder is not empty; choose an empty or new folder, or pass "
                                   "overwrite=True to replace what an earlier call wrote there")
        bad = _unexpected_entries(root, allowed)
        if bad:
            raise ImageFolderError(f"{root}: not overwriting, the folder holds files that {writer} did not "
                                   f"write (first: {bad[0]}); delete them yourself or choose another folder")
        for child in root.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    root.mkdir(parents=True, exist_ok=True)
    return root


def _index_names(n: int) -> list[str]:
    """``00000.png``...: zero-padded so that sorted file names keep the order of the array."""
    width = max(5, len(str(max(n - 1, 0))))
    return [f"{i:0{width}d}.png" for i in range(n)]


def write_class_folders(x, y, class_names, root, overwrite: bool = False) -> Path:
    """Write uint8 images as PNG files into ``root/<class name>/<index>.png``; return ``root``.

    ``<index>`` is the image's position in ``x`` (zero-padded). Class names are made filesystem-safe
    (:func:`safe_class_name`); every class gets a folder, even one without images. A non-empty ``root`` is
    refused unless ``overwrite=True``, and even then only when it holds nothing but class folders of PNGs.
    """
    x, y = _check_arrays(x, y, class_names)
    folders = _folder_names(class_names)

    def ours(rel: Path, path: Path) -> bool:
        return (len(rel.parts) == 1 and path.is_dir()) or (
            len(rel.parts) == 2 and path.is_file() and rel.suffix.lower() == ".png")

    root = _prepare_root(root, overwrite, ours, "write_class_folders")
    for folder in folders:
        (root / folder).mkdir(exist_ok=True)
    for image, label, name in zip(x, y, _index_names(len(x))):
        _to_pil(image).save(root / folders[int(label)] / name)
    return root


def write_csv_dataset(x, y, class_names, root, overwrite: bool = False) -> Path:
    """Write ``root/images/<index>.png`` and ``root/labels.csv`` (``filename,label``); return the CSV path.

    Filenames in the CSV are relative to its folder (``images/00000.png``); labels are class names.
    The same overwrite rule as :func:`write_class_folders` applies.
    """
    x, y = _check_arrays(x, y, class_names)

    def ours(rel: Path, path: Path) -> bool:
        if rel == Path(CSV_NAME):
            return path.is_file()
        if rel == Path(CSV_IMAGES):
            return path.is_dir()
        return (len(rel.parts) == 2 and rel.parts[0] == CSV_IMAGES and path.is_file()
                and rel.suffix.lower() == ".png")

    root = _prepare_root(root, overwrite, ours, "write_csv_dataset")
    (root / CSV_IMAGES).mkdir()
    csv_path = root / CSV_NAME
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_HEADER)
        for image, label, name in zip(x, y, _index_names(len(x))):
            _to_pil(image).save(root / CSV_IMAGES / name)
            writer.writerow([f"{CSV_IMAGES}/{name}", class_names[int(label)]])
    return csv_path


# --- reading -----------------------------------------------------------------------------------

def _is_image(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_EXTENSIONS


def _check_color_mode(color_mode: str) -> None:
    if color_mode not in COLOR_MODES:
        raise ValueError(f"color_mode must be one of {COLOR_MODES}, got {color_mode!r}")


def _size_hw(image_size) -> tuple[int, int] | None:
    if image_size is None:
        return None
    if isinstance(image_size, int):
        return image_size, image_size
    height, width = image_size
    return int(height), int(width)


def read_image(path, image_size=None, color_mode: str = "rgb", where: str | None = None) -> np.ndarray:
    """One image file as uint8 (H, W) or (H, W, 3); ``image_size`` (int or (height, width)) resizes it.

    A missing, corrupt or truncated file raises :class:`ImageFolderError` naming it (and ``where``, e.g.
    the CSV row it came from).
    """
    from PIL import Image, UnidentifiedImageError

    _check_color_mode(color_mode)
    path = Path(path)
    prefix = f"{where}: " if where else ""
    try:
        with Image.open(path) as im:
            im.load()
            im = im.convert("L" if color_mode == "grayscale" else "RGB")
            size = _size_hw(image_size)
            if size and im.size != (size[1], size[0]):
                im = im.resize((size[1], size[0]), Image.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except FileNotFoundError as exc:
        raise ImageFolderError(f"{prefix}{path}: image file not found") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageFolderError(f"{prefix}{path}: not a readable image, the file is corrupt, truncated or "
                               f"not an image ({type(exc).__name__}: {exc})") from exc


def read_images(paths, image_size=None, color_mode: str = "rgb", where=None, progress: bool = False) -> np.ndarray:
    """Read many files into one uint8 array; without ``image_size`` they must all have the same size.

    ``where`` is an optional list (one description per file) used in error messages.
    """
    paths = list(paths)
    iterator = range(len(paths))
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="reading images", unit="img")
    images = []
    for i in iterator:
        image = read_image(paths[i], image_size, color_mode, where[i] if where else None)
        if images and image.shape != images[0].shape:
            prefix = f"{where[i]}: " if where else ""
            raise ImageFolderError(
                f"{prefix}{paths[i]}: image is {image.shape[1]}x{image.shape[0]} pixels but {paths[0]} is "
                f"{images[0].shape[1]}x{images[0].shape[0]}; pass image_size=(height, width) to resize all")
        images.append(image)
    if not images:
        raise ImageFolderError("no images to read")
    return np.stack(images)


def list_class_folders(root, class_names=None) -> tuple[list[Path], np.ndarray, list[str]]:
    """The image files of a class-folder data set: ``(paths, labels, class_names)`` without reading them.

    Classes are the sub-folders in sorted order (as ``keras.utils.image_dataset_from_directory`` does),
    or ``class_names`` in the given order (each found as a folder of that name or its
    :func:`safe_class_name`; other folders are then ignored). Files are sorted by name within each class;
    hidden files/folders (``.ipynb_checkpoints``) and non-image files are skipped.
    """
    root = Path(root)
    if not root.exists():
        raise ImageFolderError(f"{root}: data set folder not found")
    if not root.is_dir():
        raise ImageFolderError(f"{root}: is a file, expected a folder with one sub-folder per class")
    if class_names is None:
        class_names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        folders = [root / c for c in class_names]
        if not folders:
            raise ImageFolderError(f"{root}: no class folders found; expected one sub-folder per class "
                                   "holding that class's images")
    else:
        class_names = list(class_names)
        folders = []
        for c in class_names:
            candidates = [root / str(c), root / safe_class_name(c)]
            found = next((f for f in candidates if f.is_dir()), None)
            if found is None:
                raise ImageFolderError(f"{candidates[-1]}: folder for class {c!r} not found in {root}")
            folders.append(found)
    paths, labels = [], []
    for label, folder in enumerate(folders):
        files = sorted(p for p in folder.iterdir() if _is_image(p))
        if not files:
            raise ImageFolderError(f"{folder}: class folder has no images (looked for {', '.join(IMAGE_EXTENSIONS)})")
        paths += files
        labels += [label] * len(files)
    return paths, np.asarray(labels, dtype=np.int64), [str(c) for c in class_names]


def read_class_folders(root, class_names=None, image_size=None, color_mode: str = "rgb",
                       progress: bool = False):
    """Read a one-folder-per-class data set into ``(x, y, class_names)``; see :func:`list_class_folders`.

    ``x`` is uint8, (N, H, W) in ``"grayscale"`` mode or (N, H, W, 3) in ``"rgb"`` mode, grouped by class.
    Without ``image_size`` all images must have the same size.
    """
    _check_color_mode(color_mode)
    paths, y, names = list_class_folders(root, class_names)
    return read_images(paths, image_size, color_mode, progress=progress), y, names


def _rejected_reason(name: str) -> str | None:
    """Why a CSV filename is not allowed, judged on the text alone (nothing is opened)."""
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive:
        return "absolute paths are not allowed; give the path relative to the CSV's folder"
    if ".." in re.split(r"[\\/]", name):
        return "'..' is not allowed; images must stay inside the CSV's folder"
    return None


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def list_csv_dataset(csv_path, class_names=None) -> tuple[list[Path], np.ndarray, list[str]]:
    """The rows of a ``filename,label`` CSV as ``(paths, labels, class_names)``, checked but not read.

    Filenames are relative to the CSV's folder; a plain name that is not there is looked up in an
    ``images/`` folder beside the CSV. Absolute paths, ``..`` and symlinks leading out of the CSV's folder
    are rejected. Labels are class names; the classes are sorted (or follow ``class_names``).
    Errors name the CSV, the row (1 = first row after the header) and the file.
    """
    paths, y, names, _ = _csv_rows(csv_path, class_names)
    return paths, y, names


def _csv_rows(csv_path, class_names=None):
    """Parse and check the CSV: paths, labels, class names and the row number of each path."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise ImageFolderError(f"{csv_path}: CSV file not found")
    base = csv_path.parent
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (UnicodeDecodeError, csv.Error, OSError) as exc:
        raise ImageFolderError(f"{csv_path}: not a readable UTF-8 CSV file ({exc})") from exc
    if not rows:
        raise ImageFolderError(f"{csv_path}: the file is empty; expected the header 'filename,label'")
    header = [h.strip().lower() for h in rows[0]]
    if header[:2] != list(CSV_HEADER):
        raise ImageFolderError(f"{csv_path}: bad header {rows[0]!r} on line 1; expected the columns "
                               "'filename,label' first")
    paths, names, row_numbers = [], [], []
    for row_number, row in enumerate(rows[1:], start=1):
        if not any(cell.strip() for cell in row):
            continue  # blank line
        where = f"{csv_path}, row {row_number}"
        if len(row) < 2:
            raise ImageFolderError(f"{where}: expected 2 columns (filename,label), got {len(row)}: {row!r}")
        filename, label = row[0].strip(), row[1].strip()
        if not filename:
            raise ImageFolderError(f"{where}: empty filename")
        if not label:
            raise ImageFolderError(f"{where}: empty label for file {filename!r}")
        reason = _rejected_reason(filename)
        if reason:
            raise ImageFolderError(f"{where}: file {filename!r} rejected: {reason}")
        path = base / filename
        if not os.path.lexists(path) and not re.search(r"[\\/]", filename):
            path = base / CSV_IMAGES / filename
        if not _inside(path, base):
            raise ImageFolderError(f"{where}: file {filename!r} rejected: it is a link to {path.resolve()}, "
                                   f"outside the data set folder {base}")
        if not path.exists():
            tried = f"{base / filename}" + (f" or {path}" if path != base / filename else "")
            raise ImageFolderError(f"{where}: image file {filename!r} not found (looked for {tried})")
        if not path.is_file():
            raise ImageFolderError(f"{where}: {filename!r} is not a file")
        paths.append(path)
        names.append(label)
        row_numbers.append(row_number)
    if not paths:
        raise ImageFolderError(f"{csv_path}: no images listed (the CSV has only its header)")
    if class_names is None:
        class_names = sorted(set(names))
    else:
        class_names = [str(c) for c in class_names]
        unknown = sorted(set(names) - set(class_names))
        if unknown:
            i = names.index(unknown[0])
            raise ImageFolderError(f"{csv_path}, row {row_numbers[i]}: label {unknown[0]!r} (file "
                                   f"{paths[i].name}) is not one of the class names {class_names}")
    index = {c: i for i, c in enumerate(class_names)}
    return paths, np.asarray([index[n] for n in names], dtype=np.int64), class_names, row_numbers


def read_csv_dataset(csv_path, image_size=None, color_mode: str = "rgb", class_names=None,
                     progress: bool = False):
    """Read a ``filename,label`` CSV and its images into ``(x, y, class_names)`` in the CSV's row order.

    See :func:`list_csv_dataset` for where files are looked up and what is rejected.
    """
    _check_color_mode(color_mode)
    paths, y, names, row_numbers = _csv_rows(csv_path, class_names)
    where = [f"{csv_path}, row {i}" for i in row_numbers]
    return read_images(paths, image_size, color_mode, where=where, progress=progress), y, names
