"""course_utils.check_dataset: one test per problem, each on a tiny data set built here.

Every CLI test asserts the exact problem for the exact file, the exit code, that no traceback is printed,
and that the data set is byte-for-byte unchanged afterwards. The CLI runs in this process (its ``main()``);
one test runs the real ``python -m`` command.
"""
import contextlib
import hashlib
import io
import itertools
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from course_utils import check_dataset as cd
from course_utils.example_dataset import (EXPECTED_CSV_PROBLEMS, EXPECTED_PROBLEMS, make_example_csv_dataset,
                                          make_example_dataset)

ROOT = Path(__file__).resolve().parent.parent
#: Small images: relax the size and count thresholds so each test sees only the problem it plants.
RELAXED = ["--min-edge", "8", "--min-images", "1"]
_seeds = itertools.count()


# --- helpers -------------------------------------------------------------------------------------

def image_bytes(fmt="PNG", size=(16, 16)) -> bytes:
    """A small image with unique random content (no accidental duplicates)."""
    rng = np.random.default_rng(next(_seeds))
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(buf, fmt)
    return buf.getvalue()


def put(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def class_folders(root: Path, classes=("cat", "dog"), n=3) -> Path:
    for label in classes:
        for i in range(n):
            put(root / label / f"{label}_{i}.png", image_bytes())
    return root


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels but holds none (a decompression-bomb stand-in)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IEND", b""))


def tree_hashes(root: Path) -> dict:
    """Content hash of every file below root; links by their target, never followed."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = "link->" + os.readlink(p)
            elif p.is_file():
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                out[rel] = "dir" if p.is_dir() else "other"
    return out


def run_cli(*args, subprocess_run=False):
    """The command line on ``args``: its exit code, stdout and stderr (and never a traceback).

    In this process by default, through the same ``main()`` that ``python -m`` calls: a new interpreter imports
    TensorFlow with the package, seconds per call. ``subprocess_run=True`` runs the real command.
    """
    args = [str(a) for a in args]
    if subprocess_run:
        proc = subprocess.run([sys.executable, "-m", "course_utils.check_dataset", *args],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)
    else:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cd.main(args)
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code
        proc = subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())
    assert "Traceback" not in proc.stdout and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    return proc


def check(path: Path, *options, expect_rc: int, table_cli: bool = False):
    """Run the CLI (--json) and return its report; asserts rc, no writes, no traceback.

    The table is made in-process from the same check (``table_cli=True``: by a second CLI run).
    """
    root = path if path.is_dir() else path.parent
    before = tree_hashes(root)
    proc = run_cli(path, "--json", *options)
    assert proc.returncode == expect_rc, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    if table_cli:
        table = run_cli(path, *options)
        assert table.returncode == expect_rc, table.stdout + table.stderr
        report["table"] = table.stdout
    else:
        names = {"--min-edge": "min_edge", "--min-images": "min_images"}
        kwargs = {names[k]: int(v) for k, v in zip(options[::2], options[1::2])}
        in_process = cd.check_dataset(path, **kwargs)
        assert in_process.to_dict() == report
        report["table"] = in_process.to_table()
    assert tree_hashes(root) == before, "the checker changed the data set"
    for p in report["errors"] + report["warnings"]:   # the table names every problem with its file
        assert p["file"] in report["table"] and p["message"] in report["table"]
    return report


def problems(report, severity, file):
    return [p["message"] for p in report[severity + "s"] if p["file"] == file]


def only_problem(report, severity, file, fragment):
    """Exactly one problem in the whole report, with this severity, file and message fragment."""
    everything = report["errors"] + report["warnings"]
    assert len(everything) == 1, everything
    assert everything[0]["severity"] == severity and everything[0]["file"] == file, everything
    assert fragment in everything[0]["message"], everything[0]["message"]


@pytest.fixture
def ds(tmp_path):
    return class_folders(tmp_path / "ds")


# --- a clean data set and the report -------------------------------------------------------------

def test_clean_class_folders_exit_0_with_summary(ds):
    report = check(ds, *RELAXED, expect_rc=0, table_cli=True)
    assert report["ok"] and not report["errors"] and not report["warnings"]
    s = report["summary"]
    assert s["classes"] == ["cat", "dog"] and s["images_per_class"] == {"cat": 3, "dog": 3}
    assert s["image_sizes"]["min_width"] == 16 and s["formats"] == {"PNG": 6}
    assert "No problems found" in report["table"] and "Images per class" in report["table"]


def test_report_object_api(ds):
    put(ds / "cat" / "empty.png", b"")
    report = cd.check_dataset(ds, min_edge=8, min_images=1)
    assert report.ok is False
    assert report.errors == [cd.Problem("error", "cat/empty.png", "empty file (0 bytes)")]
    assert report.warnings == []
    assert report.to_dict()["errors"][0] == {"severity": "error", "file": "cat/empty.png",
                                            "message": "empty file (0 bytes)"}
    table = report.to_table().splitlines()
    assert table[1].split() == ["SEVERITY", "FILE", "PROBLEM"]
    assert table[3].split()[:2] == ["ERROR", "cat/empty.png"]
    assert report.summary["images_per_class"] == {"cat": 3, "dog": 3}


def test_default_thresholds_warn_on_small_images_and_classes(ds):
    report = check(ds, expect_rc=0)     # 16 px images, 3 per class: usable, with warnings
    assert problems(report, "warning", "cat/") == ["only 3 usable image(s) in class 'cat' (at least 30 recommended)"]
    assert any("shortest edge 16 px < 256 px" in m for m in problems(report, "warning", "cat/cat_0.png"))


# --- errors: the files themselves ----------------------------------------------------------------

def test_zero_byte_file(ds):
    put(ds / "cat" / "blank.png", b"")
    report = check(ds, *RELAXED, expect_rc=1, table_cli=True)
    only_problem(report, "error", "cat/blank.png", "empty file (0 bytes)")
    assert "ERROR     cat/blank.png  empty file (0 bytes)" in report["table"]
    assert "NOT USABLE: 1 error(s), 0 warning(s)" in report["table"]


def test_text_behind_image_extension(ds):
    put(ds / "dog" / "notes.png", b"remember to buy more dog food\n")
    only_problem(check(ds, *RELAXED, expect_rc=1), "error", "dog/notes.png", "not an image")


def test_truncated_png(ds):
    data = image_bytes("PNG", (64, 64))
    put(ds / "cat" / "cut.png", data[: len(data) // 2])
    only_problem(check(ds, *RELAXED, expect_rc=1), "error", "cat/cut.png", "corrupt or truncated")


def test_truncated_jpeg_is_caught_by_full_decode(ds):
    data = image_bytes("JPEG", (64, 64))
    cut = data[: len(data) // 2]
    with Image.open(io.BytesIO(cut)) as im:
        im.verify()                      # verify() alone does not notice: the full decode must
    put(ds / "cat" / "cut.jpg", cut)
    report = check(ds, *RELAXED, expect_rc=1)
    only_problem(report, "error", "cat/cut.jpg", "truncated")


def test_corrupt_png_checksum(ds):
    data = bytearray(image_bytes("PNG", (32, 32)))
    idat = data.index(b"IDAT")
    data[idat + 20] ^= 0xFF              # flip bits inside the compressed pixels: CRC no longer matches
    put(ds / "dog" / "flipped.png", bytes(data))
    only_problem(check(ds, *RELAXED, expect_rc=1), "error", "dog/flipped.png", "corrupt")


def test_corrupt_jpeg_header(ds):
    data = image_bytes("JPEG", (32, 32))
    put(ds / "dog" / "mangled.jpg", data[:2] + b"\x00" * 200 + data[202:])
    report = check(ds, *RELAXED, expect_rc=1)
    assert len(report["errors"]) == 1 and report["errors"][0]["file"] == "dog/mangled.jpg"


def test_unsupported_extension(ds):
    put(ds / "cat" / "photo.webp", image_bytes("WEBP"))
    only_problem(check(ds, *RELAXED, expect_rc=1), "error", "cat/photo.webp", "unsupported file type '.webp'")


def test_unsupported_format_behind_accepted_extension(ds):
    put(ds / "cat" / "scan.png", image_bytes("TIFF"))
    only_problem(check(ds, *RELAXED, expect_rc=1), "error", "cat/scan.png", "content is TIFF")


def test_file_of_6_mb_or_more_is_rejected_unopened(ds):
    path = put(ds / "dog" / "huge.png", image_bytes())
    with open(path, "r+b") as fh:
        fh.truncate(6_000_000)
    only_problem(check(ds, *RELAXED, expect_rc=1), "error", "dog/huge.png", "file too large: 6.0 MB (limit 6 MB)")


def test_decompression_bomb_over_pillows_limit(ds):
    put(ds / "cat" / "bomb.png", png_header_only(100_000, 100_000))
    only_problem(check(ds, *RELAXED, expect_rc=1), "error", "cat/bomb.png", "decompression bomb")


def test_absurd_pixel_count_under_pillows_limit_is_not_decoded(ds, monkeypatch):
    put(ds / "cat" / "big.png", png_header_only(7000, 7000))     # 49 Mpx > 40 Mpx, < Pillow's warning
    only_problem(check(ds, *RELAXED, expect_rc=1), "error", "cat/big.png", "7000x7000 = 49,000,000 pixels")

    decoded = []
    original = Image.Image.load
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", lambda self: decoded.append(self.size) or original(self))
    report = cd.check_dataset(ds, min_edge=8, min_images=1)
    assert [p.file for p in report.errors] == ["cat/big.png"]
    assert (7000, 7000) not in decoded and len(decoded) == 6      # the six good images, not the bomb


def test_unreadable_file(ds):
    path = put(ds / "cat" / "locked.png", image_bytes())
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: permissions do not stop reading")
        only_problem(check(ds, *RELAXED, expect_rc=1), "error", "cat/locked.png", "unreadable")
    finally:
        path.chmod(0o644)


def test_broken_link_and_pipe_are_unreadable(ds):
    (ds / "cat" / "gone.png").symlink_to(ds / "cat" / "never-existed.png")
    os.mkfifo(ds / "dog" / "pipe.png")        # opening a pipe would hang: it must not be read
    report = check(ds, *RELAXED, expect_rc=1)
    assert problems(report, "error", "cat/gone.png") == ["unreadable: broken symbolic link (its target does not exist)"]
    assert len(problems(report, "error", "dog/pipe.png")) == 1
    assert "not a regular file" in problems(report, "error", "dog/pipe.png")[0]
    assert len(report["errors"]) == 2 and not report["warnings"]


# --- errors: the data set as a whole -------------------------------------------------------------

def test_empty_class_folder(ds):
    (ds / "fox").mkdir()
    report = check(ds, *RELAXED, expect_rc=1)
    assert problems(report, "error", "fox/") == ["empty class folder (no images); add images or remove the folder"]
    assert len(report["errors"]) == 1


def test_fewer_than_two_classes(tmp_path):
    ds = class_folders(tmp_path / "one", classes=("cat",))
    report = check(ds, *RELAXED, expect_rc=1)
    only_problem(report, "error", ".", "found 1 class(es) (cat); a classifier needs at least two")


def test_images_directly_in_the_folder_are_not_classes(tmp_path):
    ds = tmp_path / "flat"
    put(ds / "a.png", image_bytes())
    put(ds / "b.png", image_bytes())
    report = check(ds, *RELAXED, expect_rc=1)
    assert "one sub-folder per class" in problems(report, "error", ".")[0]
    assert "file outside any class folder" in problems(report, "warning", "a.png")[0]


def test_same_image_under_two_labels(ds):
    put(ds / "dog" / "which.png", (ds / "cat" / "cat_1.png").read_bytes())
    report = check(ds, *RELAXED, expect_rc=1)
    only_problem(report, "error", "dog/which.png",
                 "same image under two labels: identical to cat/cat_1.png (label 'cat'), here labelled 'dog'")
    assert report["summary"]["images_per_class"] == {"cat": 3, "dog": 3}   # the ambiguous copy is not counted


def test_symlink_in_class_folder_pointing_outside_is_not_opened(ds, tmp_path, monkeypatch):
    secret = put(tmp_path / "outside" / "secret.png", image_bytes())
    secret_hash = hashlib.sha256(secret.read_bytes()).hexdigest()
    (ds / "cat" / "escape.png").symlink_to(secret)
    (ds / "dog" / "subdir").symlink_to(tmp_path / "outside", target_is_directory=True)
    report = check(ds, *RELAXED, expect_rc=1)
    assert problems(report, "error", "cat/escape.png") == ["symbolic link pointing outside the data set; not opened"]
    assert problems(report, "error", "dog/subdir/") == ["symbolic link pointing outside the data set; not opened"]
    assert len(report["errors"]) == 2
    assert hashlib.sha256(secret.read_bytes()).hexdigest() == secret_hash

    opened = _record_reads(monkeypatch)
    cd.check_dataset(ds, min_edge=8, min_images=1)
    assert not any("outside" in p or "escape" in p for p in opened), opened


def test_symlinked_class_folder_pointing_outside(ds, tmp_path):
    class_folders(tmp_path / "elsewhere", classes=("fox",))
    (ds / "fox").symlink_to(tmp_path / "elsewhere" / "fox", target_is_directory=True)
    report = check(ds, *RELAXED, expect_rc=1)
    only_problem(report, "error", "fox/", "symbolic link pointing outside the data set")


def test_symlink_inside_the_data_set_is_followed(ds):
    (ds / "cat" / "zz_alias.png").symlink_to(ds / "cat" / "cat_0.png")
    report = check(ds, *RELAXED, expect_rc=0)
    only_problem(report, "warning", "cat/zz_alias.png", "duplicate image: same content as cat/cat_0.png")


def _record_reads(monkeypatch) -> list[str]:
    """Record every path the checker reads or hands to Pillow."""
    opened = []
    real_read, real_open = Path.read_bytes, Image.open
    monkeypatch.setattr(Path, "read_bytes", lambda self: opened.append(str(self)) or real_read(self))
    monkeypatch.setattr(Image, "open", lambda fp, *a, **k: opened.append(str(fp)) or real_open(fp, *a, **k))
    return opened


# --- warnings --------------------------------------------------------------------------------------

def test_few_images_per_class_is_a_configurable_warning(ds):
    report = check(ds, "--min-edge", "8", "--min-images", "4", expect_rc=0)
    assert problems(report, "warning", "cat/") == ["only 3 usable image(s) in class 'cat' (at least 4 recommended)"]
    assert problems(report, "warning", "dog/") == ["only 3 usable image(s) in class 'dog' (at least 4 recommended)"]
    assert not report["errors"]
    assert not check(ds, "--min-edge", "8", "--min-images", "3", expect_rc=0)["warnings"]


def test_small_images_are_a_configurable_warning(ds):
    put(ds / "dog" / "big.png", image_bytes(size=(40, 32)))
    report = check(ds, "--min-edge", "32", "--min-images", "1", expect_rc=0)
    assert problems(report, "warning", "cat/cat_0.png") == ["small image: 16x16, shortest edge 16 px < 32 px"]
    assert problems(report, "warning", "dog/big.png") == []
    assert len(report["warnings"]) == 6 and not report["errors"]


def test_duplicate_within_one_class(ds):
    put(ds / "cat" / "zz_again.png", (ds / "cat" / "cat_2.png").read_bytes())
    only_problem(check(ds, *RELAXED, expect_rc=0), "warning", "cat/zz_again.png",
                 "duplicate image: same content as cat/cat_2.png in the same class 'cat'")


def test_content_format_differs_from_extension(ds):
    put(ds / "dog" / "really_png.jpg", image_bytes("PNG"))
    put(ds / "dog" / "really_jpeg.png", image_bytes("JPEG"))
    report = check(ds, *RELAXED, expect_rc=0)
    assert problems(report, "warning", "dog/really_png.jpg") == [
        "content is PNG but the extension is '.jpg' (usable; consider renaming it)"]
    assert problems(report, "warning", "dog/really_jpeg.png") == [
        "content is JPEG but the extension is '.png' (usable; consider renaming it)"]
    assert report["summary"]["images_per_class"]["dog"] == 5


def test_folder_inside_a_class_folder_is_checked_and_flagged(ds):
    put(ds / "cat" / "indoor" / "sofa.png", image_bytes())
    put(ds / "cat" / "indoor" / "broken.png", b"")
    report = check(ds, *RELAXED, expect_rc=1)
    assert len(problems(report, "warning", "cat/indoor/")) == 1
    assert "its images are read as class 'cat'" in problems(report, "warning", "cat/indoor/")[0]
    assert report["summary"]["images_per_class"]["cat"] == 4          # sofa.png counts, as the reader reads it
    assert problems(report, "error", "cat/indoor/broken.png") == ["empty file (0 bytes)"]
    assert len(report["errors"]) == 1 and len(report["warnings"]) == 1


def test_uppercase_extensions_and_hidden_files(ds):
    put(ds / "cat" / "LOUD.JPG", image_bytes("JPEG"))
    put(ds / "cat" / ".DS_Store", b"\x00\x01junk")
    put(ds / "dog" / ".ipynb_checkpoints" / "x.png", b"")
    assert not check(ds, *RELAXED, expect_rc=0)["warnings"]


# --- the CSV layout ---------------------------------------------------------------------------------

def csv_dataset(root: Path, rows, n=3) -> Path:
    for label in ("cat", "dog"):
        for i in range(n):
            put(root / "images" / f"{label}_{i}.png", image_bytes())
    lines = ["filename,label"] + [",".join(r) for r in rows]
    put(root / "labels.csv", ("\n".join(lines) + "\n").encode())
    return root / "labels.csv"


GOOD_ROWS = [("images/cat_0.png", "cat"), ("cat_1.png", "cat"), ("images/cat_2.png", "cat"),
             ("dog_0.png", "dog"), ("images/dog_1.png", "dog"), ("dog_2.png", "dog")]


def test_csv_both_name_styles_are_accepted(tmp_path):
    report = check(csv_dataset(tmp_path / "c", GOOD_ROWS), *RELAXED, expect_rc=0)
    assert report["layout"] == "csv" and not report["warnings"]
    assert report["summary"]["images_per_class"] == {"cat": 3, "dog": 3}


def test_csv_missing_file(tmp_path):
    report = check(csv_dataset(tmp_path / "c", GOOD_ROWS + [("images/cat_9.png", "cat")]), *RELAXED, expect_rc=1)
    only_problem(report, "error", "images/cat_9.png", "file not found (looked for images/cat_9.png beside the CSV)")
    report = check(csv_dataset(tmp_path / "d", GOOD_ROWS + [("cat_9.png", "cat")]), *RELAXED, expect_rc=1)
    only_problem(report, "error", "cat_9.png", "looked for cat_9.png or images/cat_9.png")


def test_csv_empty_label(tmp_path):
    rows = GOOD_ROWS[:-1] + [("dog_2.png", "")]
    only_problem(check(csv_dataset(tmp_path / "c", rows), *RELAXED, expect_rc=1),
                 "error", "images/dog_2.png", "empty label (CSV row 6)")


def test_csv_duplicated_row(tmp_path):
    rows = GOOD_ROWS + [("images/cat_1.png", "cat")]        # same file as 'cat_1.png' on row 2
    only_problem(check(csv_dataset(tmp_path / "c", rows), *RELAXED, expect_rc=1),
                 "error", "images/cat_1.png", "duplicated row: row 7 repeats row 2")


def test_csv_same_file_with_two_labels(tmp_path):
    rows = GOOD_ROWS + [("cat_0.png", "dog")]
    only_problem(check(csv_dataset(tmp_path / "c", rows), *RELAXED, expect_rc=1),
                 "error", "images/cat_0.png", "listed twice with different labels: 'cat' on row 1, 'dog' on row 7")


@pytest.mark.parametrize("name, why", [
    ("/etc/hostname", "absolute path"),
    ("C:\\Users\\me\\cat.png", "absolute path"),
    ("../outside.png", "path leaves the data set's folder"),
    ("images/../../outside.png", "path leaves the data set's folder"),
])
def test_csv_paths_leaving_the_folder_are_refused_unopened(tmp_path, monkeypatch, name, why):
    put(tmp_path / "outside.png", image_bytes())
    csv_path = csv_dataset(tmp_path / "c", GOOD_ROWS + [(name, "cat")])
    report = check(csv_path, *RELAXED, expect_rc=1)
    only_problem(report, "error", name, why)
    assert "not opened" in report["errors"][0]["message"]
    opened = _record_reads(monkeypatch)
    cd.check_dataset(csv_path, min_edge=8, min_images=1)
    assert not any("outside" in p or "hostname" in p for p in opened), opened


def test_csv_symlink_pointing_outside_is_refused_unopened(tmp_path, monkeypatch):
    secret = put(tmp_path / "secret" / "s.png", image_bytes())
    csv_path = csv_dataset(tmp_path / "c", GOOD_ROWS + [("images/link.png", "cat")])
    (tmp_path / "c" / "images" / "link.png").symlink_to(secret)
    only_problem(check(csv_path, *RELAXED, expect_rc=1), "error", "images/link.png",
                 "symbolic link pointing outside the data set; not opened")
    opened = _record_reads(monkeypatch)
    cd.check_dataset(csv_path, min_edge=8, min_images=1)
    assert not any("secret" in p or "link.png" in p for p in opened), opened


def test_csv_without_the_header_row(tmp_path):
    csv_path = put(tmp_path / "c" / "labels.csv", b"cat_0.png,cat\ndog_0.png,dog\n")
    only_problem(check(csv_path, expect_rc=1), "error", "labels.csv", "header row must name the columns")


def test_csv_checks_each_image_too(tmp_path):
    csv_path = csv_dataset(tmp_path / "c", GOOD_ROWS + [("zero.png", "dog")])
    put(tmp_path / "c" / "images" / "zero.png", b"")
    only_problem(check(csv_path, *RELAXED, expect_rc=1), "error", "images/zero.png", "empty file (0 bytes)")


def test_progress_counter_goes_to_stderr(ds):
    proc = run_cli(ds, "--progress", *RELAXED)
    assert proc.returncode == 0 and "checking images" in proc.stderr and "6img" in proc.stderr
    assert "checking images" not in run_cli(ds, *RELAXED).stderr     # off when stderr is not a terminal


def test_the_module_runs_as_a_command(ds, tmp_path):
    """``python -m course_utils.check_dataset`` itself (the other tests call its main() in this process)."""
    put(ds / "cat" / "blank.png", b"")
    report = run_cli(ds, "--json", *RELAXED, subprocess_run=True)
    assert report.returncode == 1 and json.loads(report.stdout)["errors"][0]["file"] == "cat/blank.png"
    usage = run_cli(tmp_path / "nowhere", subprocess_run=True)
    assert usage.returncode == 2 and "nowhere: not found" in usage.stderr and "usage:" in usage.stderr


# --- bad usage: exit 2 -------------------------------------------------------------------------------

@pytest.mark.parametrize("args, fragment", [
    ([], "the following arguments are required: PATH"),
    (["{tmp}/does-not-exist"], "does-not-exist: not found"),
    (["{tmp}/notes.txt"], "neither a folder"),
    (["{tmp}/ds", "--min-images", "many"], "expected a whole number"),
    (["{tmp}/ds", "--min-edge", "-5"], "must not be negative"),
    (["{tmp}/ds", "--colour"], "unrecognized arguments: --colour"),
])
def test_bad_usage_exits_2(tmp_path, args, fragment):
    class_folders(tmp_path / "ds")
    put(tmp_path / "notes.txt", b"hi")
    proc = run_cli(*[a.format(tmp=tmp_path) for a in args])
    assert proc.returncode == 2
    assert fragment in proc.stderr and "usage:" in proc.stderr


# --- the example data set --------------------------------------------------------------------------

def test_example_dataset_reports_exactly_its_planted_problems(tmp_path):
    root = make_example_dataset(tmp_path / "shapes")
    report = check(root, expect_rc=1)
    found = [(p["severity"], p["file"]) for p in report["errors"] + report["warnings"]]
    assert sorted(found) == sorted((s, f) for s, f, _ in EXPECTED_PROBLEMS)
    for severity, file, fragment in EXPECTED_PROBLEMS:
        assert any(fragment in m for m in problems(report, severity, file)), (file, fragment)


def test_example_csv_dataset_reports_exactly_its_planted_problems(tmp_path):
    csv_path = make_example_csv_dataset(tmp_path / "shapes_csv")
    report = check(csv_path, expect_rc=1)
    assert sorted((p["severity"], p["file"]) for p in report["errors"] + report["warnings"]) == sorted(
        (s, f) for s, f, _ in EXPECTED_CSV_PROBLEMS)
    for severity, file, fragment in EXPECTED_CSV_PROBLEMS:
        assert any(fragment in m for m in problems(report, severity, file)), (file, fragment)


def test_example_datasets_clean_variants_are_usable_and_deterministic(tmp_path):
    a = make_example_dataset(tmp_path / "a", seed=3, bad_files=False)
    b = make_example_dataset(tmp_path / "b", seed=3, bad_files=False)
    assert tree_hashes(a) == tree_hashes(b)
    report = cd.check_dataset(a)
    assert report.ok and not report.warnings and report.summary["images_per_class"] == {
        "circle": 30, "square": 30, "triangle": 30}
    assert cd.check_dataset(make_example_csv_dataset(tmp_path / "c", bad_rows=False)).ok


def test_example_dataset_never_overwrites(tmp_path):
    put(tmp_path / "mine" / "keep.txt", b"precious")
    with pytest.raises(FileExistsError, match="not an empty folder"):
        make_example_dataset(tmp_path / "mine")
    with pytest.raises(FileExistsError):
        make_example_csv_dataset(tmp_path / "mine")
    assert (tmp_path / "mine" / "keep.txt").read_bytes() == b"precious"
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["keep.txt"]
