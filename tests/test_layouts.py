"""One set of layout rules: every data set the checker passes, the reader reads, and the other way round.

Each case builds a small data set (class folders or a CSV) and states what the checker and the reader must
say; whatever the case, a pass of the checker must mean the reader reads the same images under the same
classes, and a refusal of the reader must come with an error in the checker's report.
"""
import ast
import io
import itertools
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from course_utils import layouts
from course_utils.check_dataset import check_dataset
from course_utils.example_dataset import make_example_csv_dataset, make_example_dataset
from course_utils.image_folders import ImageFolderError, read_csv_dataset, read_dataset

ROOT = Path(__file__).resolve().parent.parent
_seeds = itertools.count(1000)


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


# --- class-folder layouts ---------------------------------------------------------------------------

def folders(tmp, classes=("cat", "dog"), n=3) -> Path:
    root = tmp / "ds"
    for label in classes:
        for i in range(n):
            put(root / label / f"{label}_{i}.png", image_bytes())
    root.mkdir(exist_ok=True)
    return root


def folders_nested(tmp):
    root = folders(tmp)
    put(root / "cat" / "indoor" / "sofa.png", image_bytes())
    put(root / "cat" / "indoor" / "deeper" / "bed.jpg", image_bytes("JPEG"))
    return root


def folders_files_at_root(tmp):
    root = folders(tmp)
    put(root / "README.txt", b"my photos")
    put(root / "stray.png", image_bytes())
    put(root / "labels.csv", b"filename,label\n")
    return root


def folders_hidden_and_non_images(tmp):
    root = folders(tmp)
    put(root / "cat" / ".DS_Store", b"\x00junk")
    put(root / "cat" / ".hidden.png", b"")
    put(root / "dog" / ".ipynb_checkpoints" / "dog_0-checkpoint.png", b"")
    put(root / ".git" / "config", b"[core]")
    return root


def folders_uppercase_extensions(tmp):
    root = folders(tmp)
    put(root / "cat" / "LOUD.JPG", image_bytes("JPEG"))
    put(root / "dog" / "Shout.Png", image_bytes())
    return root


def folders_symlink_inside(tmp):
    root = folders(tmp)
    (root / "cat" / "zz_alias.png").symlink_to(root / "cat" / "cat_0.png")
    return root


def folders_symlinked_folder_inside(tmp):
    root = folders(tmp)
    (root / "dog" / "more_cats").symlink_to(root / "cat", target_is_directory=True)
    return root


def folders_symlinked_class_inside(tmp):
    root = folders(tmp)
    put(tmp / "ds" / ".store" / "fox" / "fox_0.png", image_bytes())
    (root / "fox").symlink_to(root / ".store" / "fox", target_is_directory=True)
    return root


def folders_mixed_sizes_and_formats(tmp):
    root = folders(tmp)
    put(root / "cat" / "big.jpg", image_bytes("JPEG", (40, 24)))
    put(root / "dog" / "old.bmp", image_bytes("BMP", (9, 12)))
    put(root / "dog" / "anim.gif", image_bytes("GIF"))
    return root


def folders_warnings(tmp):
    """Duplicate in one class, content that differs from its extension, tiny images, small classes."""
    root = folders(tmp, n=2)
    put(root / "cat" / "again.png", (root / "cat" / "cat_0.png").read_bytes())
    put(root / "dog" / "really_png.jpg", image_bytes("PNG"))
    put(root / "dog" / "really_jpeg.png", image_bytes("JPEG"))
    return root


def folders_unicode_names(tmp):
    return folders(tmp, classes=("chat noir", "Hund-ü", "T-shirt_top"))


def folders_example_clean(tmp):
    return make_example_dataset(tmp / "shapes", bad_files=False, per_class=4, size=32)


def folders_non_image_file(tmp):
    root = folders(tmp)
    put(root / "cat" / "photo.webp", image_bytes("WEBP"))   # the reader skips it; the checker calls it an error
    return root


def folders_one_class(tmp):
    return folders(tmp, classes=("cat",))


def folders_same_image_two_labels(tmp):
    root = folders(tmp)
    put(root / "dog" / "which.png", (root / "cat" / "cat_1.png").read_bytes())
    return root


def folders_empty_class(tmp):
    root = folders(tmp)
    (root / "fox").mkdir()
    return root


def folders_class_of_notes(tmp):
    root = folders(tmp)
    put(root / "fox" / "notes.txt", b"find fox pictures")
    return root


def folders_no_class_folders(tmp):
    root = tmp / "flat"
    put(root / "a.png", image_bytes())
    put(root / "b.png", image_bytes())
    return root


def folders_link_outside(tmp):
    root = folders(tmp)
    (root / "cat" / "escape.png").symlink_to(put(tmp / "outside" / "secret.png", image_bytes()))
    return root


def folders_class_link_outside(tmp):
    root = folders(tmp)
    elsewhere = folders(tmp / "elsewhere", classes=("fox",))
    (root / "fox").symlink_to(elsewhere / "fox", target_is_directory=True)
    return root


def folders_nested_link_outside(tmp):
    root = folders(tmp)
    put(tmp / "outside" / "x.png", image_bytes())
    (root / "cat" / "more").symlink_to(tmp / "outside", target_is_directory=True)
    return root


def folders_broken_link(tmp):
    root = folders(tmp)
    (root / "cat" / "gone.png").symlink_to(root / "cat" / "never-existed.png")
    return root


def folders_pipe(tmp):
    root = folders(tmp)
    os.mkfifo(root / "dog" / "pipe.png")
    return root


def folders_truncated(tmp):
    root = folders(tmp)
    data = image_bytes("PNG", (64, 64))
    put(root / "cat" / "cut.png", data[: len(data) // 2])
    return root


def folders_text_as_png(tmp):
    root = folders(tmp)
    put(root / "dog" / "notes.png", b"remember to buy more dog food\n")
    return root


def folders_zero_bytes(tmp):
    root = folders(tmp)
    put(root / "dog" / "blank.png", b"")
    return root


def folders_example_faulty(tmp):
    return make_example_dataset(tmp / "shapes", per_class=4, size=32)


# --- CSV layouts --------------------------------------------------------------------------------------

def csv_layout(tmp, rows, header="filename,label", newline="\n", encoding="utf-8", n=3) -> Path:
    """images/cat_0..2.png, images/dog_0..2.png and labels.csv with ``header`` and ``rows`` (strings)."""
    root = tmp / "c"
    for label in ("cat", "dog"):
        for i in range(n):
            put(root / "images" / f"{label}_{i}.png", image_bytes())
    text = newline.join([header, *rows]) + newline
    return put(root / "labels.csv", text.encode(encoding))


GOOD = ["images/cat_0.png,cat", "images/cat_1.png,cat", "images/cat_2.png,cat",
        "images/dog_0.png,dog", "images/dog_1.png,dog", "images/dog_2.png,dog"]


def csv_clean(tmp):
    return csv_layout(tmp, GOOD)


def csv_label_first(tmp):
    return csv_layout(tmp, [",".join(reversed(r.split(","))) for r in GOOD], header="label,filename")


def csv_bom_spaces_and_case(tmp):
    return csv_layout(tmp, [r.replace(",", " , ") for r in GOOD], header="\ufeff FileName , LABEL ")


def csv_extra_columns(tmp):
    return csv_layout(tmp, [f"train,{r},ok" for r in GOOD], header="split,filename,label,notes")


def csv_windows_separators_crlf(tmp):
    return csv_layout(tmp, [r.replace("/", "\\") for r in GOOD], newline="\r\n")


def csv_plain_names_and_blank_rows(tmp):
    rows = [r.removeprefix("images/") for r in GOOD]
    return csv_layout(tmp, rows[:3] + ["", " , "] + rows[3:])


def csv_quoted_names(tmp):
    path = csv_layout(tmp, GOOD + ['"images/cat, the 4th.png",cat'])
    put(path.parent / "images" / "cat, the 4th.png", image_bytes())
    return path


def csv_subfolders_and_links_inside(tmp):
    path = csv_layout(tmp, GOOD + ["images/more/cat_9.png,cat", "alias.png,dog"])
    put(path.parent / "images" / "more" / "cat_9.png", image_bytes())
    (path.parent / "alias.png").symlink_to(path.parent / "images" / "dog_0.png")   # a duplicate: a warning
    return path


def csv_names_a_hidden_file(tmp):
    path = csv_layout(tmp, GOOD + ["images/.cat_9.PNG,cat"])     # named explicitly: read, unlike in a folder
    put(path.parent / "images" / ".cat_9.PNG", image_bytes())
    return path


def csv_example_clean(tmp):
    return make_example_csv_dataset(tmp / "shapes", bad_rows=False, per_class=4, size=32)


def csv_row(name, label="cat"):
    """A CSV layout of the good rows plus one row (and an image outside the data set to tempt it)."""
    def build(tmp):
        put(tmp / "outside.png", image_bytes())
        return csv_layout(tmp, GOOD + [f"{name},{label}"])
    build.__name__ = f"csv_row_{name!r}"
    return build


def csv_link_outside(tmp):
    path = csv_layout(tmp, GOOD + ["images/link.png,cat"])
    (path.parent / "images" / "link.png").symlink_to(put(tmp / "secret" / "s.png", image_bytes()))
    return path


def csv_images_folder_links_outside(tmp):
    root = tmp / "c"
    for label in ("cat", "dog"):
        for i in range(3):
            put(tmp / "elsewhere" / f"{label}_{i}.png", image_bytes())
    root.mkdir()
    (root / "images").symlink_to(tmp / "elsewhere", target_is_directory=True)
    return put(root / "labels.csv", ("\n".join(["filename,label", *GOOD]) + "\n").encode())


def csv_text(text: str, encoding="utf-8", name="text"):
    def build(tmp):
        path = csv_layout(tmp, [])
        return put(path, text.encode(encoding))
    build.__name__ = f"csv_{name}"
    return build


def csv_example_faulty(tmp):
    return make_example_csv_dataset(tmp / "shapes", per_class=4, size=32)


# checker_ok: no errors in the checker's report; reader_ok: read_dataset reads it
USABLE = [folders, folders_nested, folders_files_at_root, folders_hidden_and_non_images,
          folders_uppercase_extensions, folders_symlink_inside, folders_symlinked_folder_inside,
          folders_symlinked_class_inside, folders_mixed_sizes_and_formats, folders_warnings,
          folders_unicode_names, folders_example_clean,
          csv_clean, csv_label_first, csv_bom_spaces_and_case, csv_extra_columns, csv_windows_separators_crlf,
          csv_plain_names_and_blank_rows, csv_quoted_names, csv_subfolders_and_links_inside, csv_names_a_hidden_file,
          csv_example_clean]
#: The checker is stricter than the reader here (the reader reads them; the checker reports errors).
CHECKER_ONLY = [folders_non_image_file, folders_one_class, folders_same_image_two_labels,
                csv_text("filename,label\nimages/cat_0.png,cat\nimages/cat_1.png,cat\n", name="one_class")]
REFUSED = [folders_empty_class, folders_class_of_notes, folders_no_class_folders, folders_link_outside,
           folders_class_link_outside, folders_nested_link_outside, folders_broken_link, folders_pipe,
           folders_truncated, folders_text_as_png, folders_zero_bytes, folders_example_faulty,
           csv_row("../outside.png"), csv_row("images/../../outside.png"), csv_row("..\\outside.png"),
           csv_row("/etc/hostname"), csv_row("C:\\Users\\me\\cat.png"), csv_row("C:cat.png"),
           csv_row("\\\\server\\share\\cat.png"), csv_row("images/missing.png"), csv_row("missing.png"),
           csv_row("images/cat_0.png", ""), csv_row("", "cat"), csv_row("images/cat_0.png", "cat"),
           csv_row("cat_1.png", "dog"), csv_row("images", "cat"), csv_row("labels.csv", "cat"),
           csv_link_outside, csv_images_folder_links_outside,
           csv_text("filename,label\nimages/cat_0.png\n", name="short_row"),
           csv_text("images/cat_0.png,cat\nimages/dog_0.png,dog\n", name="no_header"),
           csv_text("filename;label\nimages/cat_0.png;cat\n", name="semicolons"),
           csv_text("filename,label,label\nimages/cat_0.png,cat,cat\n", name="label_twice"),
           csv_text("file,class\nimages/cat_0.png,cat\n", name="other_names"),
           csv_text("", name="empty"), csv_text("filename,label\n", name="only_header"),
           csv_text("filename,label\nimages/cat_0.png,chat\u00e9\n", encoding="latin-1", name="latin1"),
           csv_example_faulty]
CASES = ([pytest.param(b, True, True, id=b.__name__) for b in USABLE]
         + [pytest.param(b, False, True, id=b.__name__) for b in CHECKER_ONLY]
         + [pytest.param(b, False, False, id=b.__name__) for b in REFUSED])


@pytest.mark.parametrize("build, checker_ok, reader_ok", CASES)
def test_what_the_checker_passes_the_reader_reads(tmp_path, build, checker_ok, reader_ok):
    path = build(tmp_path)
    report = check_dataset(path, min_edge=8, min_images=1)
    try:
        x, y, names = read_dataset(path, image_size=(8, 8))
        refusal = None
    except ImageFolderError as exc:
        refusal = exc
    assert report.ok == checker_ok, report.to_table()
    assert (refusal is None) == reader_ok, refusal
    if report.ok:     # the same images under the same classes
        assert refusal is None
        assert len(x) == report.summary["usable_images"]
        assert names == report.summary["classes"]
        assert np.bincount(y, minlength=len(names)).tolist() == [report.summary["images_per_class"][c] for c in names]
    if refusal is not None:
        assert report.errors, f"the reader refused ({refusal}) but the checker found no error"


@pytest.mark.parametrize("name, row", [("../outside.png", 7), ("/etc/hostname", 7), ("C:\\Users\\me\\cat.png", 7),
                                       ("images/../../outside.png", 7)])
def test_a_path_leaving_the_data_set_is_refused_naming_csv_row_and_path(tmp_path, monkeypatch, name, row):
    path = csv_row(name)(tmp_path)
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda fp, *a, **k: opened.append(str(fp)) or real_open(fp, *a, **k))
    with pytest.raises(ImageFolderError) as err:
        read_csv_dataset(path)
    assert str(err.value).startswith(f"{path}, row {row} ({name}): ")
    assert "not opened" in str(err.value) and not opened
    report = check_dataset(path, min_edge=8, min_images=1)
    assert [(p.file, p.message) for p in report.errors] == [(name, str(err.value).split("): ", 1)[1]
                                                             + f" (CSV row {row})")]
    assert not any("outside" in p or "hostname" in p for p in opened)


def test_header_rule_is_stated_in_the_error(tmp_path):
    path = csv_text("file,class\nimages/cat_0.png,cat\n")(tmp_path)
    with pytest.raises(ImageFolderError, match=r"labels.csv: header row must name the columns 'filename' and "
                                               r"'label' \(in either order, separated by commas\), found 'file,class'"):
        read_dataset(path)
    semicolons = csv_text("filename;label\nimages/cat_0.png;cat\n")(tmp_path / "s")
    assert "separate columns with ';'" in check_dataset(semicolons).errors[0].message


def test_checker_collects_every_problem_the_reader_stops_at_the_first(tmp_path):
    path = csv_layout(tmp_path, GOOD + ["images/missing.png,cat", "../x.png,dog", "images/cat_0.png,dog"])
    with pytest.raises(ImageFolderError, match=r"row 7 \(images/missing.png\): file not found"):
        read_dataset(path)
    report = check_dataset(path, min_edge=8, min_images=1)
    assert sorted(p.file for p in report.errors) == ["../x.png", "images/cat_0.png", "images/missing.png"]


def test_label_first_reads_the_same_as_filename_first(tmp_path):
    x1, y1, names1 = read_dataset(csv_clean(tmp_path / "a"))
    x2, y2, names2 = read_dataset(csv_label_first(tmp_path / "b"))
    assert names1 == names2 == ["cat", "dog"] and y1.tolist() == y2.tolist() == [0, 0, 0, 1, 1, 1]
    assert x1.shape == x2.shape == (6, 16, 16, 3)


def test_one_inside_helper_in_the_library():
    """``layouts.is_inside`` is the library's only "is this path inside that folder" function."""
    found = []
    for path in sorted((ROOT / "course_utils").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and "inside" in node.name:
                found.append(f"{path.name}:{node.name}")
    assert found == ["layouts.py:is_inside"]
    assert layouts.is_inside(ROOT / "course_utils" / ".." / "course_utils", ROOT)
    assert not layouts.is_inside(ROOT / ".." / "elsewhere", ROOT)
