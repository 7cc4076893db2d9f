"""What a data set on disk lists, by one set of rules shared by the reader and the checker.

:mod:`course_utils.image_folders` reads a data set and raises on its first error;
:mod:`course_utils.check_dataset` checks one and reports every problem. Both call :func:`scan_layout`,
which decides which layout a path is, which files it lists under which label, and what is wrong with the
layout itself (the pixels are the reader's and the checker's business). Nothing is opened but folders and
the CSV file; no image is read.

The rules:

* **which layout**: a folder is the class-folder layout, a ``.csv`` file the CSV layout.
* **class folders**: every sub-folder of the root whose name does not start with ``.`` is a class, in
  sorted order; its images are all the image files below it, sub-folders included (as
  ``keras.utils.image_dataset_from_directory`` reads them), hidden files and folders skipped. Files
  directly in the root are ignored (a warning).
* **images**: a file whose name ends in one of :data:`IMAGE_EXTENSIONS` (any case); in a class folder,
  not starting with ``.`` either. Other files in a class folder are ignored by the reader (the checker
  calls them errors); a CSV row naming one is an error.
* **CSV**: UTF-8 (a byte-order mark is fine), commas between columns, a header row naming the columns
  ``filename`` and ``label`` in either order (case and spaces around names ignored; other columns are
  ignored). Blank rows are skipped; row 1 is the first row after the header. A file name is relative to
  the CSV's folder, ``/`` or ``\\`` between folders; a plain name not found there is looked up in
  ``images/``. Every row needs a file name and a label, and names its file once.
* **safety**: nothing outside the data set is ever opened: absolute paths, ``..`` and symbolic links
  pointing out of the data set's folder are errors; a symbolic link inside it is followed (a linked
  folder inside a class folder is not, a warning).
"""
from __future__ import annotations

import csv
import io
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

#: Extensions read as images (the same as ``keras.utils.image_dataset_from_directory``).
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
CSV_HEADER = ("filename", "label")
CSV_NAME = "labels.csv"
CSV_IMAGES = "images"
CLASS_FOLDER, CSV_LAYOUT = "class-folder", "csv"
ERROR, WARNING = "error", "warning"
LINK_OUTSIDE = "symbolic link pointing outside the data set; not opened"


class ImageFolderError(ValueError):
    """A folder, CSV or image file is missing or unusable: the message names it and says what is wrong."""


# --- the small rules -----------------------------------------------------------------------------

def safe_class_name(name: str) -> str:
    """A folder name for a class: anything but letters, digits, space, ``-``, ``_`` and ``.`` becomes ``_``.

    ``"T-shirt/top"`` -> ``"T-shirt_top"``. Leading dots are replaced too, so no name is hidden or ``..``.
    """
    safe = re.sub(r"[^\w\- .]", "_", str(name)).strip()
    safe = re.sub(r"^\.", "_", safe)
    if not safe:
        raise ImageFolderError(f"class name {name!r} gives an empty folder name")
    return safe


def has_image_extension(name: str) -> bool:
    """True when the file name ends in one of :data:`IMAGE_EXTENSIONS` (any case)."""
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def is_image_name(name: str) -> bool:
    """True for a file in a class folder that the reader reads as an image: an image extension, not hidden."""
    return not name.startswith(".") and has_image_extension(name)


def unsupported_type(name: str) -> str:
    """The problem with a file that is not named like an image."""
    ext = os.path.splitext(name)[1].lower()
    return f"unsupported file type '{ext or '(no extension)'}'; accepted: {', '.join(IMAGE_EXTENSIONS)}"


def is_inside(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """True when ``path`` is ``folder`` or lies below it, once both are resolved (symbolic links followed)."""
    real_path, real_folder = Path(os.path.realpath(path)), Path(os.path.realpath(folder))
    return real_path == real_folder or real_folder in real_path.parents


def layout_of(path: str | os.PathLike) -> str:
    """``"class-folder"`` for a folder, ``"csv"`` for a ``.csv`` file.

    Raises ``FileNotFoundError`` when ``path`` does not exist and :class:`ImageFolderError` otherwise.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: not found")
    if path.is_dir():
        return CLASS_FOLDER
    if path.is_file() and path.suffix.lower() == ".csv":
        return CSV_LAYOUT
    raise ImageFolderError(f"{path}: neither a folder (one sub-folder per class) nor a .csv file (filename,label)")


def _rel(path: Path, base: Path) -> str:
    return path.relative_to(base).as_posix()


# --- what a listing holds -------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One listed file: ``path`` on disk, ``file`` relative to the data set (with ``/``), its ``label``.

    ``row`` is the CSV row (1 = the first row after the header), None in the class-folder layout;
    ``is_image`` is False for other files found in a class folder (the reader skips them).
    """

    path: Path
    file: str
    label: str
    row: int | None = None
    is_image: bool = True


@dataclass(frozen=True)
class Finding:
    """Something wrong with the layout.

    ``file`` (relative to the data set; ``"."`` for the whole) and ``message`` are what the checker reports;
    ``error`` is the whole sentence the reader raises, naming the folder or the CSV, the row and the path.
    ``label`` is the class of the file concerned when it has one; ``listed`` is True when the finding
    stands for a listed file (a CSV row, or a file in a class folder).
    """

    severity: str
    file: str
    message: str
    error: str
    label: str | None = None
    listed: bool = False


@dataclass
class Listing:
    """The files of a data set and the problems of its layout, in the order they were found."""

    layout: str
    path: Path
    base: Path
    class_names: list[str] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    #: True when the CSV could not be read as a table with the columns filename and label at all.
    unparsed: bool = False

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def images(self) -> list[Entry]:
        return [e for e in self.entries if e.is_image]

    def raise_first_error(self) -> None:
        """The reader's rule: raise :class:`ImageFolderError` for the first error, or when nothing is listed."""
        if self.errors:
            raise ImageFolderError(self.errors[0].error)
        if not self.images:
            if self.layout == CSV_LAYOUT:
                raise ImageFolderError(f"{self.path}: no images listed (the CSV has only its header)")
            raise ImageFolderError(f"{self.path}: no class folders found; expected one sub-folder per class "
                                   "holding that class's images")


def scan_layout(path: str | os.PathLike, class_names=None) -> Listing:
    """List a class-folder data set (a folder) or a CSV-labelled one (a ``.csv`` file); see the module doc.

    ``class_names`` fixes the classes and their order (the reader's option; other folders are then
    ignored, and a CSV label outside them is an error). Raises only when ``path`` itself is unusable.
    """
    path = Path(path)
    if path.suffix.lower() == ".csv" and not path.is_dir():
        return scan_csv(path, class_names)
    return scan_class_folders(path, class_names)


# --- class folders --------------------------------------------------------------------------------

def scan_class_folders(root: str | os.PathLike, class_names=None) -> Listing:
    """The class-folder layout: classes, their files and the layout's problems (see the module doc)."""
    root = Path(root)
    if not root.exists():
        raise ImageFolderError(f"{root}: data set folder not found")
    if not root.is_dir():
        raise ImageFolderError(f"{root}: is a file, expected a folder with one sub-folder per class")
    listing = Listing(CLASS_FOLDER, root, root)

    def add(severity, file, message, label=None, listed=False):
        where = root if file == "." else root / file.rstrip("/")
        listing.findings.append(Finding(severity, file, message, f"{where}: {message}", label, listed))

    folders: list[tuple[str, Path]] = []
    if class_names is None:
        for entry in sorted(root.iterdir()):
            if entry.name.startswith("."):
                continue
            if entry.is_symlink() and not is_inside(entry, root):
                add(ERROR, entry.name + ("/" if entry.is_dir() else ""), LINK_OUTSIDE)
            elif entry.is_file():
                hint = ("; to use a CSV of labels, pass the CSV file itself" if entry.suffix.lower() == ".csv"
                        else "; put each image in its class's sub-folder")
                add(WARNING, entry.name, f"file outside any class folder, ignored{hint}")
            elif entry.is_dir():
                folders.append((entry.name, entry))
    else:
        for name in class_names:
            candidates = [root / str(name), root / safe_class_name(name)]
            found = next((f for f in candidates if f.is_dir()), None)
            if found is None:
                add(ERROR, candidates[-1].name + "/", f"folder for class {name!r} not found in {root}")
            elif found.is_symlink() and not is_inside(found, root):
                add(ERROR, found.name + "/", LINK_OUTSIDE)
            else:
                folders.append((str(name), found))
    listing.class_names = [name for name, _ in folders]
    for label, folder in folders:
        if not _list_class_folder(root, label, folder, listing, add):
            add(ERROR, folder.name + "/", "empty class folder (no images); add images or remove the folder")
    return listing


def _list_class_folder(root: Path, label: str, folder: Path, listing: Listing, add) -> int:
    """Add the files below one class folder; return how many are named like images."""
    images = 0
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirpath = Path(dirpath)
        for name in list(dirnames):
            sub = dirpath / name
            if name.startswith("."):
                dirnames.remove(name)
            elif sub.is_symlink():
                dirnames.remove(name)
                if is_inside(sub, root):
                    add(WARNING, _rel(sub, root) + "/", "symbolic link to a folder; not followed")
                else:
                    add(ERROR, _rel(sub, root) + "/", LINK_OUTSIDE)
            else:
                add(WARNING, _rel(sub, root) + "/",
                    f"folder inside the class folder '{folder.name}': its images are read as class '{label}' "
                    f"(as Keras's image_dataset_from_directory does); make it a class folder of its own if "
                    f"they are another class")
        dirnames.sort()
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = dirpath / name
            rel = _rel(path, root)
            image = is_image_name(name)
            images += image
            problem = _file_problem(path, root, check_type=image)
            if problem:
                add(ERROR, rel, problem, label, listed=True)
            else:
                listing.entries.append(Entry(path, rel, label, None, image))
    return images


def _file_problem(path: Path, base: Path, check_type: bool = True) -> str | None:
    """Why the file at ``path`` (known to exist as a name) must not be opened, or None."""
    if not is_inside(path, base):     # the file, or a folder on the way to it, links out
        return LINK_OUTSIDE
    if path.is_symlink() and not path.exists():
        return "unreadable: broken symbolic link (its target does not exist)"
    if check_type:
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            return f"unreadable: {exc.strerror or exc}"
        if not stat.S_ISREG(mode):
            return "unreadable: not a regular file (a folder, pipe or device named like an image)"
    return None


# --- the CSV layout --------------------------------------------------------------------------------

def csv_target(raw: str, base: Path) -> tuple[Path | None, str | None]:
    """Where a CSV file name points below ``base`` (the CSV's folder): ``(path, None)`` or ``(None, why not)``.

    Judges the text first (absolute, ``..``), so a refused name is never looked up on disk.
    """
    name = raw.strip().replace("\\", "/")
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive:
        return None, "absolute path; file names must be relative to the CSV's folder; not opened"
    if ".." in PurePosixPath(name).parts:
        return None, "path leaves the data set's folder ('..'); not opened"
    candidates = [base / name]
    if len(PurePosixPath(name).parts) == 1:
        candidates.append(base / CSV_IMAGES / name)
    for candidate in candidates:
        if candidate.is_symlink() or candidate.exists():
            return candidate, None
    return None, f"file not found (looked for {' or '.join(_rel(c, base) for c in candidates)} beside the CSV)"


def _header_problem(header: list[str]) -> str | None:
    names = [h.strip().lower() for h in header]
    missing = [c for c in CSV_HEADER if c not in names]
    twice = [c for c in CSV_HEADER if names.count(c) > 1]
    if not missing and not twice:
        return None
    found = repr(",".join(header)) if header else "an empty file"
    hint = ""
    if len(header) == 1 and any(sep in header[0] for sep in ";\t"):
        hint = "; this file seems to separate columns with ';' or tabs: save it as comma-separated"
    elif twice:
        hint = f"; '{twice[0]}' is named twice"
    return (f"header row must name the columns 'filename' and 'label' (in either order, separated by commas), "
            f"found {found}{hint}")


def scan_csv(csv_path: str | os.PathLike, class_names=None) -> Listing:
    """The CSV layout: its rows as entries and the problems of the CSV and its rows (see the module doc)."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise ImageFolderError(f"{csv_path}: CSV file not found")
    base = csv_path.parent
    listing = Listing(CSV_LAYOUT, csv_path, base)

    def add_csv(message):
        listing.unparsed = True
        listing.findings.append(Finding(ERROR, csv_path.name, message, f"{csv_path}: {message}"))

    def add_row(row, shown, why, label=None, listed=True, message=None):
        listing.findings.append(Finding(ERROR, shown, message or f"{why} (CSV row {row})",
                                        f"{csv_path}, row {row} ({shown}): {why}", label, listed))

    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        add_csv(f"not a UTF-8 text file ({exc.reason} at byte {exc.start}); save it as UTF-8 CSV")
        return listing
    except OSError as exc:
        add_csv(f"unreadable: {exc.strerror or exc}")
        return listing
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        add_csv(f"not a readable CSV file ({exc})")
        return listing
    header = rows[0] if rows else []
    problem = _header_problem(header)
    if problem:
        add_csv(problem)
        return listing
    names = [h.strip().lower() for h in header]
    file_col, label_col = names.index("filename"), names.index("label")

    labels: list[str] = []
    seen: dict[str, tuple[int, str]] = {}
    for row_number, row in enumerate(rows[1:], start=1):
        if not any(cell.strip() for cell in row):
            continue  # a blank row
        cells = [cell.strip() for cell in row]
        if len(cells) <= max(file_col, label_col):
            shown = cells[file_col] if len(cells) > file_col and cells[file_col] else csv_path.name
            add_row(row_number, shown, f"the row has {len(cells)} column(s), the header {len(header)} "
                                       f"({','.join(header)})", listed=shown != csv_path.name)
            continue
        raw, label = cells[file_col], cells[label_col]
        if not raw:
            listing.findings.append(Finding(ERROR, csv_path.name, f"row {row_number}: empty file name",
                                            f"{csv_path}, row {row_number}: empty file name"))
            continue
        target, why = csv_target(raw, base)
        shown = _rel(target, base) if target is not None else raw
        if shown in seen:
            first_row, first_label = seen[shown]
            if first_label == label:
                why = f"duplicated row: row {row_number} repeats row {first_row}"
            else:
                why = (f"listed twice with different labels: '{first_label}' on row {first_row}, "
                       f"'{label}' on row {row_number}")
            add_row(row_number, shown, why, message=why)
            continue
        seen[shown] = (row_number, label)
        if not label:
            add_row(row_number, shown, "empty label")
            continue
        labels.append(label)
        why = why or (None if has_image_extension(shown) else unsupported_type(shown))
        why = why or _file_problem(target, base)
        if why:
            add_row(row_number, shown, why, label)
            continue
        listing.entries.append(Entry(target, shown, label, row_number))

    if class_names is None:
        listing.class_names = sorted(set(labels))
    else:
        listing.class_names = [str(c) for c in class_names]
        for entry in listing.entries:
            if entry.label not in listing.class_names:
                add_row(entry.row, entry.file, f"label {entry.label!r} is not one of the class names "
                                               f"{listing.class_names}", entry.label)
    return listing
