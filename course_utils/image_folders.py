"""Images on disk in the two layouts most data sets come in: one folder per class, or a CSV of labels.

Taught in notebook 02 ("Images on disk"). What a layout lists, and what makes it unusable, is decided by
:mod:`course_utils.layouts`, the same rules as the data-set checker's (:mod:`course_utils.check_dataset`):
a data set the checker passes, these readers read.

Layout 1, one folder per class (what ``keras.utils.image_dataset_from_directory`` reads)::

    root/
      Ankle boot/00017.png
      T-shirt_top/00000.png     <- "T-shirt/top" made filesystem-safe by safe_class_name()
      ...

Layout 2, a CSV of labels beside the images::

    root/
      labels.csv                <- header "filename,label" (either order); filenames relative to this folder
      images/00000.png

Readers (:func:`read_dataset` for either layout) return ``(x, y, class_names)`` with ``x`` uint8 of shape (N, H, W) for ``color_mode="grayscale"``
or (N, H, W, 3) for ``"rgb"``. Every problem raises :class:`ImageFolderError` naming the file or folder.
Writers never delete anything that they did not write themselves.
"""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np

# The layouts' rules live in course_utils.layouts (shared with the checker); re-exported here.
from .layouts import (CSV_HEADER, CSV_IMAGES, CSV_NAME, IMAGE_EXTENSIONS, ImageFolderError,  # noqa: F401
                      layout_of, safe_class_name, scan_class_folders, scan_csv)

COLOR_MODES = ("grayscale", "rgb")


# --- names -------------------------------------------------------------------------------------

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
    :func:`safe_class_name`; other folders are then ignored). A class's images are the image files below
    its folder, sub-folders included, sorted by path; hidden files/folders (``.ipynb_checkpoints``) and
    non-image files are skipped. The rules are :mod:`course_utils.layouts`'s, the checker's; the first
    error (an empty class folder, a link out of the data set...) raises :class:`ImageFolderError`.
    """
    listing = scan_class_folders(root, class_names)
    listing.raise_first_error()
    return _listed(listing)


def _listed(listing) -> tuple[list[Path], np.ndarray, list[str]]:
    images = listing.images
    index = {c: i for i, c in enumerate(listing.class_names)}
    return ([e.path for e in images], np.asarray([index[e.label] for e in images], dtype=np.int64),
            list(listing.class_names))


def read_class_folders(root, class_names=None, image_size=None, color_mode: str = "rgb",
                       progress: bool = False):
    """Read a one-folder-per-class data set into ``(x, y, class_names)``; see :func:`list_class_folders`.

    ``x`` is uint8, (N, H, W) in ``"grayscale"`` mode or (N, H, W, 3) in ``"rgb"`` mode, grouped by class.
    Without ``image_size`` all images must have the same size.
    """
    _check_color_mode(color_mode)
    paths, y, names = list_class_folders(root, class_names)
    return read_images(paths, image_size, color_mode, progress=progress), y, names


def list_csv_dataset(csv_path, class_names=None) -> tuple[list[Path], np.ndarray, list[str]]:
    """The rows of a ``filename,label`` CSV as ``(paths, labels, class_names)``, checked but not read.

    The header names the columns ``filename`` and ``label`` in either order. File names are relative to
    the CSV's folder (``/`` or ``\\`` between folders); a plain name that is not there is looked up in an
    ``images/`` folder beside the CSV. Absolute paths, ``..`` and symlinks leading out of the CSV's folder
    are refused, as are rows without a file name or label and files listed twice. Labels are class names;
    the classes are sorted (or follow ``class_names``). The rules are :mod:`course_utils.layouts`'s, the
    checker's; errors name the CSV, the row (1 = first row after the header) and the file.
    """
    listing = scan_csv(csv_path, class_names)
    listing.raise_first_error()
    return _listed(listing)


def read_csv_dataset(csv_path, image_size=None, color_mode: str = "rgb", class_names=None,
                     progress: bool = False):
    """Read a ``filename,label`` CSV and its images into ``(x, y, class_names)`` in the CSV's row order.

    See :func:`list_csv_dataset` for where files are looked up and what is rejected.
    """
    _check_color_mode(color_mode)
    listing = scan_csv(csv_path, class_names)
    listing.raise_first_error()
    paths, y, names = _listed(listing)
    where = [f"{csv_path}, row {e.row}" for e in listing.images]
    return read_images(paths, image_size, color_mode, where=where, progress=progress), y, names


def read_dataset(path, image_size=None, color_mode: str = "rgb", class_names=None, progress: bool = False):
    """Read either layout into ``(x, y, class_names)``: a folder of class folders, or a ``.csv`` file.

    Every data set that ``python -m course_utils.check_dataset`` passes (no errors) is read (pass
    ``image_size`` when the images differ in size); see :func:`read_class_folders` and :func:`read_csv_dataset`.
    """
    try:
        layout = layout_of(path)
    except FileNotFoundError as exc:
        raise ImageFolderError(str(exc)) from None
    reader = read_csv_dataset if layout == "csv" else read_class_folders
    return reader(path, image_size=image_size, color_mode=color_mode, class_names=class_names,
                  progress=progress)
