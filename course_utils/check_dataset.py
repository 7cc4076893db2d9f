"""Check a data set of your own images before training on it: every problem, with the file that has it.

Taught in notebook 02 ("Bring your own images"). Two layouts are accepted:

* a **class folder**: one sub-folder per class, images inside (``my_images/cat/001.jpg``; images in
  sub-folders of a class folder belong to that class);
* a **CSV file** with a header row naming the columns ``filename`` and ``label`` (either order); each file
  name is relative to the CSV's folder (``images/cat_001.png``) or a plain name found in an ``images/``
  folder beside the CSV.

What a layout lists and what is wrong with it are decided by :mod:`course_utils.layouts`, the rules of the
course's reader too: a data set with no errors here is one :func:`course_utils.image_folders.read_dataset`
reads.

Usage::

    python -m course_utils.check_dataset PATH [--json] [--min-images N] [--min-edge N]
                                         [--max-bytes N] [--max-pixels N] [--[no-]progress]

Exit status: 0 when the data set is usable (warnings allowed), 1 when errors were found, 2 on bad usage.
The checker only reads: it never writes inside the data set, never opens a file that lies outside it
(absolute paths, ``..``, symbolic links pointing out), and never decodes an image whose header claims
an absurd pixel count (a "decompression bomb").

Errors (the data set cannot be used as it is): unreadable, truncated or corrupt images, empty files,
non-image content behind an image extension, formats other than JPEG/PNG/BMP/GIF, files of ``max_bytes``
or more, images over ``max_pixels``, empty class folders, fewer than two classes, the same image under two
labels, and for CSVs: missing files, empty labels, duplicated rows and paths leaving the data set.
Warnings (usable, but worth a look): classes with fewer than ``min_images`` images, images whose shortest
edge is under ``min_edge`` pixels, the same image twice in one class, and content whose format differs
from its extension.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import stat
import statistics
import sys
import warnings
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .layouts import ERROR, WARNING, Listing, has_image_extension, layout_of, scan_layout, unsupported_type

#: Pillow's format names accepted for each extension (phone JPEGs often open as "MPO").
FORMAT_EXTENSIONS = {"JPEG": (".jpg", ".jpeg"), "MPO": (".jpg", ".jpeg"), "PNG": (".png",),
                     "BMP": (".bmp",), "GIF": (".gif",)}
DEFAULT_MIN_IMAGES = 30
DEFAULT_MIN_EDGE = 256
DEFAULT_MAX_BYTES = 6_000_000
#: 40 megapixels (e.g. 8000 x 5000): far above what a classifier needs, far below what exhausts memory.
DEFAULT_MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class Problem:
    """One finding: ``severity`` ("error" or "warning"), ``file`` relative to the data set, ``message``."""

    severity: str
    file: str
    message: str


@dataclass
class Report:
    """What :func:`check_dataset` found. ``ok`` is True when there are no errors (warnings allowed)."""

    path: str
    layout: str
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def problems(self) -> list[Problem]:
        return self.errors + self.warnings

    def add(self, severity: str, file: str, message: str) -> None:
        (self.errors if severity == ERROR else self.warnings).append(Problem(severity, file, message))

    def problems_for(self, file: str) -> list[Problem]:
        """The problems reported for one file (as written in the report)."""
        return [p for p in self.problems if p.file == file]

    def to_dict(self) -> dict:
        return {"path": self.path, "layout": self.layout, "ok": self.ok,
                "errors": [asdict(p) for p in self.errors], "warnings": [asdict(p) for p in self.warnings],
                "summary": self.summary}

    def to_table(self) -> str:
        """The problems as a table (severity, file, problem), then the summary."""
        lines = [f"Data set: {self.path} ({self.layout} layout)"]
        rows = [(p.severity.upper(), _printable(p.file), _printable(p.message)) for p in self.problems]
        if rows:
            w_sev = max(len("SEVERITY"), *(len(r[0]) for r in rows))
            w_file = min(60, max(len("FILE"), *(len(r[1]) for r in rows)))
            lines.append(f"{'SEVERITY':<{w_sev}}  {'FILE':<{w_file}}  PROBLEM")
            lines.append(f"{'-' * w_sev}  {'-' * w_file}  {'-' * 7}")
            lines += [f"{s:<{w_sev}}  {f:<{w_file}}  {m}" for s, f, m in rows]
        else:
            lines.append("No problems found.")
        lines.append("")
        lines += _format_summary(self.summary)
        verdict = ("OK: usable" + (f", with {len(self.warnings)} warning(s)" if self.warnings else "")
                   if self.ok else f"NOT USABLE: {len(self.errors)} error(s), {len(self.warnings)} warning(s)")
        lines.append(verdict)
        return "\n".join(lines)


def _printable(text: str) -> str:
    """Control characters (a newline in a file name) shown as escapes, so each problem stays on one row."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def _format_summary(summary: dict) -> list[str]:
    if not summary:
        return []
    out = [f"Classes: {summary.get('num_classes', 0)}   files checked: {summary.get('files_checked', 0)}   "
           f"usable images: {summary.get('usable_images', 0)}"]
    per_class = summary.get("images_per_class", {})
    if per_class:
        width = max(len(c) for c in per_class)
        out.append("Images per class (usable):")
        out += [f"  {c:<{width}}  {n}" for c, n in per_class.items()]
    sizes = summary.get("image_sizes")
    if sizes:
        out.append(f"Image sizes (width x height): min {sizes['min_width']}x{sizes['min_height']}, "
                   f"median {sizes['median_width']}x{sizes['median_height']}, "
                   f"max {sizes['max_width']}x{sizes['max_height']}; most common: "
                   + ", ".join(f"{s} ({n})" for s, n in sizes["most_common"]))
    if summary.get("formats"):
        out.append("Formats: " + ", ".join(f"{k} {v}" for k, v in summary["formats"].items())
                   + "   colour modes: " + ", ".join(f"{k} {v}" for k, v in summary.get("modes", {}).items()))
    return out


# --- one image ---------------------------------------------------------------------------------

@dataclass
class _Image:
    rel: str
    label: str
    sha256: str
    size: tuple[int, int]
    format: str
    mode: str


def _describe_content(data: bytes) -> str:
    head = data[:64]
    if head.startswith((b"%PDF",)):
        return "it is a PDF document"
    if head.startswith(b"PK\x03\x04"):
        return "it is a ZIP archive (or an Office document)"
    if head.lstrip().lower().startswith((b"<!doctype html", b"<html")):
        return "it is an HTML page (a web page saved instead of the image?)"
    try:
        head.decode("utf-8")
        if all(32 <= b < 127 or b in (9, 10, 13) for b in head):
            return f"it looks like text ({head[:24].decode('ascii')!r}...)"
    except UnicodeDecodeError:
        pass
    return "unknown content"


def _check_image(path: Path, rel: str, label: str, report: Report, opts: dict) -> _Image | None:
    """Check one file already known to lie inside the data set; return it when usable."""
    if opts.get("bar") is not None:
        opts["bar"].update(1)
    from PIL import Image, UnidentifiedImageError

    if not has_image_extension(path.name):
        report.add(ERROR, rel, f"{unsupported_type(path.name)} (convert it, or remove it from the class folder)")
        return None
    ext = path.suffix.lower()
    try:
        st = path.stat()
    except OSError as exc:
        report.add(ERROR, rel, f"unreadable: {exc.strerror or exc}")
        return None
    if not stat.S_ISREG(st.st_mode):
        report.add(ERROR, rel, "unreadable: not a regular file (a folder, pipe or device named like an image)")
        return None
    if st.st_size == 0:
        report.add(ERROR, rel, "empty file (0 bytes)")
        return None
    if st.st_size >= opts["max_bytes"]:
        report.add(ERROR, rel, f"file too large: {st.st_size / 1e6:.1f} MB (limit {opts['max_bytes'] / 1e6:g} MB); "
                               f"resize it before adding it")
        return None
    try:
        data = path.read_bytes()
    except OSError as exc:
        report.add(ERROR, rel, f"unreadable: {exc.strerror or exc}")
        return None

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:    # lazy: reads the header only
                fmt, size = im.format, im.size
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            report.add(ERROR, rel, f"absurd pixel count, not decoded (possible decompression bomb): {exc}")
            return None
        except UnidentifiedImageError:
            report.add(ERROR, rel, f"not an image: Pillow cannot identify the content ({_describe_content(data)})")
            return None
        except Exception as exc:   # noqa: BLE001 (any decoder failure is a property of the file)
            report.add(ERROR, rel, f"corrupt image header: {exc}")
            return None
    pixels = size[0] * size[1]
    if pixels > opts["max_pixels"]:
        report.add(ERROR, rel, f"absurd pixel count, not decoded (possible decompression bomb): the header claims "
                               f"{size[0]}x{size[1]} = {pixels:,} pixels (limit {opts['max_pixels']:,})")
        return None
    if fmt not in FORMAT_EXTENSIONS:
        report.add(ERROR, rel, f"content is {fmt}, a format outside JPEG/PNG/BMP/GIF (convert it)")
        return None

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.verify()                          # structure and checksums
            with Image.open(io.BytesIO(data)) as im:
                im.load()                            # full decode: catches truncation verify() misses
                mode = im.mode
        except Exception as exc:   # noqa: BLE001
            report.add(ERROR, rel, f"corrupt or truncated image data: {exc}")
            return None

    if ext not in FORMAT_EXTENSIONS[fmt]:
        report.add(WARNING, rel, f"content is {'JPEG' if fmt == 'MPO' else fmt} but the extension is '{path.suffix}' "
                                 f"(usable; consider renaming it)")
    if min(size) < opts["min_edge"]:
        report.add(WARNING, rel, f"small image: {size[0]}x{size[1]}, shortest edge {min(size)} px "
                                 f"< {opts['min_edge']} px")
    return _Image(rel, label, hashlib.sha256(data).hexdigest(), size, "JPEG" if fmt == "MPO" else fmt, mode)


# --- the two layouts ---------------------------------------------------------------------------

def _check_layout(listing: Listing, report: Report, opts: dict) -> tuple[list[_Image], dict | None, int]:
    """Report the layout's findings and check every listed file; ``files_per_class`` is None when a CSV is
    unusable as a whole (the findings then name only the CSV)."""
    images, checked = [], 0
    files_per_class = {label: 0 for label in listing.class_names}
    for finding in listing.findings:
        report.add(finding.severity, finding.file, finding.message)
        checked += finding.listed
        if finding.label is not None:
            files_per_class[finding.label] = files_per_class.get(finding.label, 0) + 1
    for entry in listing.entries:
        checked += 1
        files_per_class[entry.label] = files_per_class.get(entry.label, 0) + 1
        img = _check_image(entry.path, entry.file, entry.label, report, opts)
        if img:
            images.append(img)
    return images, None if listing.unparsed else files_per_class, checked


# --- the whole data set ------------------------------------------------------------------------

def _cross_checks(images: list[_Image], report: Report) -> list[_Image]:
    """Report duplicates; return the images still usable (a copy under a second label is not)."""
    ambiguous = set()
    by_hash: dict[str, list[_Image]] = defaultdict(list)
    for img in images:
        by_hash[img.sha256].append(img)
    for group in by_hash.values():
        first = group[0]
        for other in group[1:]:
            if other.label == first.label:
                report.add(WARNING, other.rel, f"duplicate image: same content as {first.rel} in the same class "
                                               f"'{other.label}' (it counts twice, and may end up in both "
                                               f"train and test)")
            else:
                report.add(ERROR, other.rel, f"same image under two labels: identical to {first.rel} "
                                             f"(label '{first.label}'), here labelled '{other.label}'")
                ambiguous.add(other.rel)
    return [img for img in images if img.rel not in ambiguous]


def _summary(images: list[_Image], files_per_class: dict, checked: int) -> dict:
    usable = Counter(img.label for img in images)
    summary = {"num_classes": len(files_per_class), "classes": sorted(files_per_class),
               "files_checked": checked, "usable_images": len(images),
               "images_per_class": {c: usable.get(c, 0) for c in sorted(files_per_class)},
               "files_per_class": dict(sorted(files_per_class.items()))}
    if images:
        widths = [img.size[0] for img in images]
        heights = [img.size[1] for img in images]
        summary["image_sizes"] = {
            "min_width": min(widths), "min_height": min(heights),
            "median_width": int(statistics.median(widths)), "median_height": int(statistics.median(heights)),
            "max_width": max(widths), "max_height": max(heights),
            "most_common": [[f"{w}x{h}", n] for (w, h), n in Counter(img.size for img in images).most_common(3)]}
        summary["formats"] = dict(Counter(img.format for img in images).most_common())
        summary["modes"] = dict(Counter(img.mode for img in images).most_common())
    return summary


def check_dataset(path: str | os.PathLike, min_images: int = DEFAULT_MIN_IMAGES, min_edge: int = DEFAULT_MIN_EDGE,
                  max_bytes: int = DEFAULT_MAX_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS,
                  progress: bool = False) -> Report:
    """Check a class-folder data set (a folder) or a CSV-labelled one (a ``.csv`` file); see the module doc.

    ``progress=True`` shows a tqdm counter of the images checked (every image is fully decoded once).

    Raises ``FileNotFoundError`` when ``path`` does not exist and ``ValueError`` when it is neither a
    folder nor a ``.csv`` file; everything wrong *inside* the data set is reported, never raised.
    """
    path = Path(path)
    layout = layout_of(path)      # FileNotFoundError, or ImageFolderError (a ValueError)
    listing = scan_layout(path)
    from tqdm.auto import tqdm

    opts = {"min_edge": min_edge, "max_bytes": max_bytes, "max_pixels": max_pixels}
    report = Report(str(path), layout)
    with tqdm(desc="checking images", unit="img", disable=not progress) as opts["bar"]:
        images, files_per_class, checked = _check_layout(listing, report, opts)

    images = _cross_checks(images, report)
    csv_unusable = files_per_class is None
    summary = _summary(images, files_per_class or {}, checked)
    if summary["num_classes"] < 2 and not csv_unusable:
        hint = (" (images directly in the folder? put them in one sub-folder per class)"
                if report.layout == "class-folder" else "")
        report.add(ERROR, ".", f"found {summary['num_classes']} class(es) "
                               f"({', '.join(summary['classes']) or 'none'}); a classifier needs at least two{hint}")
    for label, n in summary["images_per_class"].items():
        if 0 < n < min_images or (n == 0 and summary["files_per_class"][label] > 0):
            shown = f"{label}/" if report.layout == "class-folder" else f"label '{label}'"
            report.add(WARNING, shown, f"only {n} usable image(s) in class '{label}' (at least {min_images} "
                                       f"recommended)")
    order = {ERROR: 0, WARNING: 1}
    report.errors.sort(key=lambda p: (order[p.severity], p.file))
    report.warnings.sort(key=lambda p: p.file)
    report.summary = summary
    return report


# --- command line ------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message):   # bad usage: the usage line and the problem, exit 2, no traceback
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m course_utils.check_dataset",
                     description="Check a data set of your own images (class folders or a filename,label CSV). "
                                 "Exit 0: usable; 1: errors found; 2: bad usage.")
    parser.add_argument("path", metavar="PATH", help="class-folder root, or a CSV file with filename,label")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--min-images", type=_positive_int, metavar="N", default=DEFAULT_MIN_IMAGES,
                        help=f"warn for classes with fewer usable images (default {DEFAULT_MIN_IMAGES})")
    parser.add_argument("--min-edge", type=_positive_int, metavar="N", default=DEFAULT_MIN_EDGE,
                        help=f"warn for images whose shortest edge is shorter, in px (default {DEFAULT_MIN_EDGE})")
    parser.add_argument("--max-bytes", type=_positive_int, metavar="N", default=DEFAULT_MAX_BYTES,
                        help=f"reject files of this size or more (default {DEFAULT_MAX_BYTES})")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show a counter of the images checked (default: when stderr is a terminal)")
    parser.add_argument("--max-pixels", type=_positive_int, metavar="N", default=DEFAULT_MAX_PIXELS,
                        help=f"reject images claiming more pixels, without decoding them (default {DEFAULT_MAX_PIXELS})")
    args = parser.parse_args(argv)
    try:
        report = check_dataset(args.path, min_images=args.min_images, min_edge=args.min_edge,
                               max_bytes=args.max_bytes, max_pixels=args.max_pixels,
                               progress=sys.stderr.isatty() if args.progress is None else args.progress)
    except (FileNotFoundError, ValueError) as exc:
        parser.error(str(exc))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:   # noqa: BLE001 (never a traceback for a learner)
        print(f"check_dataset: unexpected problem while checking {args.path}: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 1
    text = json.dumps(report.to_dict(), indent=2) if args.json else report.to_table()
    try:
        try:
            print(text, flush=True)
        except UnicodeEncodeError:   # odd file names on a terminal that cannot show them
            sys.stdout.buffer.write(text.encode(sys.stdout.encoding or "utf-8", "backslashreplace") + b"\n")
            sys.stdout.flush()
    except BrokenPipeError:          # e.g. piped into `head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
