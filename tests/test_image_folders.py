"""Images on disk: class folders and CSV layouts, round trips and every bad input."""
import os
import re

import numpy as np
import pytest

from course_utils.image_folders import (
    ImageFolderError, list_class_folders, read_class_folders, read_csv_dataset, safe_class_name,
    write_class_folders, write_csv_dataset)

CLASSES = ["T-shirt/top", "Trouser", "Ankle boot"]


@pytest.fixture
def grey():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (9, 6, 5), dtype=np.uint8)
    y = np.array([0, 1, 2, 2, 1, 0, 0, 1, 2])
    return x, y


@pytest.fixture
def rgb():
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (6, 4, 4, 3), dtype=np.uint8), np.array([0, 1, 2, 0, 1, 2])


def _by_class(x, y):
    order = np.argsort(y, kind="stable")
    return x[order], y[order]


# --- names and writing -------------------------------------------------------------------------

def test_safe_class_name():
    assert safe_class_name("T-shirt/top") == "T-shirt_top"
    assert safe_class_name("Ankle boot") == "Ankle boot"
    assert safe_class_name("..") == "_."
    assert safe_class_name("a:b\\c") == "a_b_c"


def test_colliding_class_names_are_refused(grey, tmp_path):
    x, y = grey
    with pytest.raises(ImageFolderError, match="share the folder 'a_b'"):
        write_class_folders(x, y, ["a/b", "a:b", "c"], tmp_path / "out")


def test_write_class_folders_layout(grey, tmp_path):
    x, y = grey
    root = write_class_folders(x, y, CLASSES, tmp_path / "out")
    assert sorted(p.name for p in root.iterdir()) == ["Ankle boot", "T-shirt_top", "Trouser"]
    assert sorted(p.name for p in (root / "T-shirt_top").iterdir()) == ["00000.png", "00005.png", "00006.png"]


def test_write_refuses_non_empty_folder_and_keeps_its_files(grey, tmp_path):
    x, y = grey
    root = tmp_path / "mine"
    root.mkdir()
    (root / "notes.txt").write_text("precious")
    with pytest.raises(ImageFolderError, match=r"mine: folder is not empty.*overwrite=True"):
        write_class_folders(x, y, CLASSES, root)
    with pytest.raises(ImageFolderError, match=r"mine: not overwriting.*notes.txt"):
        write_class_folders(x, y, CLASSES, root, overwrite=True)
    with pytest.raises(ImageFolderError, match=r"mine: not overwriting.*notes.txt"):
        write_csv_dataset(x, y, CLASSES, root, overwrite=True)
    assert (root / "notes.txt").read_text() == "precious"


def test_overwrite_replaces_an_earlier_write(grey, tmp_path):
    x, y = grey
    root = write_class_folders(x, y, CLASSES, tmp_path / "out")
    write_class_folders(x[:3], y[:3], CLASSES, root, overwrite=True)
    assert len(list(root.rglob("*.png"))) == 3
    csv_path = write_csv_dataset(x, y, CLASSES, tmp_path / "csv")
    write_csv_dataset(x[:2], y[:2], CLASSES, csv_path.parent, overwrite=True)
    assert len(list((csv_path.parent / "images").iterdir())) == 2


def test_write_refuses_a_file_as_root(grey, tmp_path):
    x, y = grey
    target = tmp_path / "file.txt"
    target.write_text("x")
    with pytest.raises(ImageFolderError, match="file.txt: exists and is not a folder"):
        write_class_folders(x, y, CLASSES, target)


@pytest.mark.parametrize("bad, message", [
    (lambda x, y: (x.astype(np.float32), y), "must be uint8"),
    (lambda x, y: (x, y[:-1]), "one integer label per image"),
    (lambda x, y: (x, y + 5), "labels must be integers in 0..2"),
    (lambda x, y: (x[0], y), "must have shape"),
])
def test_write_rejects_bad_arrays(grey, tmp_path, bad, message):
    with pytest.raises(ValueError, match=message):
        write_class_folders(*bad(*grey), CLASSES, tmp_path / "out")


# --- round trips -------------------------------------------------------------------------------

def test_class_folders_round_trip_grey(grey, tmp_path):
    x, y = grey
    root = write_class_folders(x, y, CLASSES, tmp_path / "out")
    x2, y2, names = read_class_folders(root, class_names=CLASSES, color_mode="grayscale")
    xs, ys = _by_class(x, y)
    np.testing.assert_array_equal(x2, xs)
    np.testing.assert_array_equal(y2, ys)
    assert names == CLASSES and x2.dtype == np.uint8


def test_class_folders_default_order_is_sorted_folder_names(grey, tmp_path):
    x, y = grey
    root = write_class_folders(x, y, CLASSES, tmp_path / "out")
    (root / ".ipynb_checkpoints").mkdir()  # hidden folders are not classes
    (root / "Trouser" / "readme.txt").write_text("not an image")
    x2, y2, names = read_class_folders(root, color_mode="grayscale")
    assert names == ["Ankle boot", "T-shirt_top", "Trouser"]
    remap = np.array([1, 2, 0])  # CLASSES index -> sorted index
    np.testing.assert_array_equal(np.bincount(y2), np.bincount(remap[y]))


def test_class_folders_round_trip_rgb_and_resize(rgb, tmp_path):
    x, y = rgb
    root = write_class_folders(x, y, CLASSES, tmp_path / "out")
    x2, y2, _ = read_class_folders(root, class_names=CLASSES)
    np.testing.assert_array_equal(x2, _by_class(x, y)[0])
    small, _, _ = read_class_folders(root, class_names=CLASSES, image_size=(3, 2))
    assert small.shape == (6, 3, 2, 3)
    grey_x, _, _ = read_class_folders(root, class_names=CLASSES, image_size=8, color_mode="grayscale")
    assert grey_x.shape == (6, 8, 8)


def test_csv_round_trip(grey, tmp_path):
    x, y = grey
    csv_path = write_csv_dataset(x, y, CLASSES, tmp_path / "csv")
    assert csv_path == tmp_path / "csv" / "labels.csv"
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "filename,label" and lines[1] == "images/00000.png,T-shirt/top"
    x2, y2, names = read_csv_dataset(csv_path, color_mode="grayscale", class_names=CLASSES)
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(y2, y)
    _, y3, names3 = read_csv_dataset(csv_path, color_mode="grayscale")
    assert names3 == sorted(CLASSES)
    assert [names3[i] for i in y3] == [CLASSES[i] for i in y]


def test_csv_plain_names_are_found_in_images_folder(grey, tmp_path):
    x, y = grey
    csv_path = write_csv_dataset(x, y, CLASSES, tmp_path / "csv")
    csv_path.write_text("filename,label\n00001.png,Trouser\n\nimages/00002.png,Ankle boot\n")
    x2, y2, names = read_csv_dataset(csv_path, color_mode="grayscale")
    np.testing.assert_array_equal(x2, x[1:3])
    assert names == ["Ankle boot", "Trouser"] and y2.tolist() == [1, 0]


# --- reading errors: class folders --------------------------------------------------------------

def test_missing_root(tmp_path):
    with pytest.raises(ImageFolderError, match=r"nowhere: data set folder not found"):
        read_class_folders(tmp_path / "nowhere")


def test_root_without_class_folders(tmp_path):
    with pytest.raises(ImageFolderError, match=r"no class folders found"):
        read_class_folders(tmp_path)


def test_missing_class_folder(grey, tmp_path):
    x, y = grey
    root = write_class_folders(x, y, CLASSES, tmp_path / "out")
    with pytest.raises(ImageFolderError, match=r"Sandal: folder for class 'Sandal' not found"):
        read_class_folders(root, class_names=CLASSES + ["Sandal"])


def test_class_folder_without_images(grey, tmp_path):
    x, y = grey
    root = write_class_folders(x, y, CLASSES, tmp_path / "out")
    (root / "Sandal").mkdir()
    (root / "Sandal" / "notes.txt").write_text("no images here")
    with pytest.raises(ImageFolderError, match=r"Sandal: empty class folder \(no images\)"):
        read_class_folders(root)


def test_corrupt_image_is_named(grey, tmp_path):
    x, y = grey
    root = write_class_folders(x, y, CLASSES, tmp_path / "out")
    bad = root / "Trouser" / "00004.png"
    bad.write_bytes(bad.read_bytes()[:30])  # truncated PNG
    (root / "Trouser" / "zz.jpg").write_text("not a jpeg")
    with pytest.raises(ImageFolderError, match=r"Trouser/00004.png: not a readable image"):
        read_class_folders(root, color_mode="grayscale")


def test_mixed_sizes_need_image_size(grey, tmp_path):
    from PIL import Image

    x, y = grey
    root = write_class_folders(x, y, CLASSES, tmp_path / "out")
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(root / "Trouser" / "big.png")
    with pytest.raises(ImageFolderError, match=r"big.png: image is 10x10 pixels.*image_size"):
        read_class_folders(root, color_mode="grayscale")
    x2, _, _ = read_class_folders(root, color_mode="grayscale", image_size=(6, 5))
    assert x2.shape == (10, 6, 5)


def test_bad_color_mode(grey, tmp_path):
    x, y = grey
    root = write_class_folders(x, y, CLASSES, tmp_path / "out")
    with pytest.raises(ValueError, match="color_mode"):
        read_class_folders(root, color_mode="rgba")


def test_sub_folders_belong_to_their_class_and_links_out_are_refused(grey, tmp_path):
    x, y = grey
    root = write_class_folders(x, y, CLASSES, tmp_path / "out")
    (root / "Trouser" / "more").mkdir()
    (root / "Trouser" / "00004.png").rename(root / "Trouser" / "more" / "00004.png")
    paths, labels, names = list_class_folders(root, class_names=CLASSES)
    assert len(paths) == 9 and labels.tolist() == sorted(y.tolist())       # as Keras reads it: recursively
    assert root / "Trouser" / "more" / "00004.png" in paths
    (root / "Trouser" / "escape.png").symlink_to(tmp_path / "elsewhere.png")
    with pytest.raises(ImageFolderError, match=r"Trouser/escape.png: symbolic link pointing outside the data set"):
        read_class_folders(root)


def test_list_class_folders_does_not_read(grey, tmp_path):
    x, y = grey
    root = write_class_folders(x, y, CLASSES, tmp_path / "out")
    (root / "Trouser" / "00004.png").write_text("corrupt, but only listed")
    paths, labels, names = list_class_folders(root)
    assert len(paths) == 9 and names[2] == "Trouser"


# --- reading errors: CSV ------------------------------------------------------------------------

@pytest.fixture
def csv_set(grey, tmp_path):
    x, y = grey
    return write_csv_dataset(x, y, CLASSES, tmp_path / "csv")


def _rewrite(csv_path, *rows, header="filename,label"):
    csv_path.write_text("\n".join([header, *rows]) + "\n")
    return csv_path


def test_csv_missing(tmp_path):
    with pytest.raises(ImageFolderError, match=r"nope.csv: CSV file not found"):
        read_csv_dataset(tmp_path / "nope.csv")


@pytest.mark.parametrize("header", ["file,class", "filename", "filename;label", "filename,label,label"])
def test_csv_bad_header(csv_set, header):
    _rewrite(csv_set, "images/00000.png,Trouser", header=header)
    with pytest.raises(ImageFolderError, match=r"labels.csv: header row must name the columns 'filename' and "
                                               r"'label' \(in either order, separated by commas\)"):
        read_csv_dataset(csv_set)


def test_csv_header_in_either_order_with_bom_and_spaces(csv_set):
    _rewrite(csv_set, "Trouser,images/00001.png", "Ankle boot , images/00002.png", header="\ufeff Label , FILENAME")
    _, y, names = read_csv_dataset(csv_set, color_mode="grayscale")
    assert names == ["Ankle boot", "Trouser"] and y.tolist() == [1, 0]


def test_csv_windows_separators_and_duplicates(csv_set):
    _rewrite(csv_set, "images\\00001.png,Trouser")
    x, _, _ = read_csv_dataset(csv_set, color_mode="grayscale")
    assert x.shape == (1, 6, 5)
    _rewrite(csv_set, "images/00001.png,Trouser", "00001.png,Trouser")    # the same file twice
    with pytest.raises(ImageFolderError, match=r"labels.csv, row 2 \(images/00001.png\): duplicated row: "
                                               r"row 2 repeats row 1"):
        read_csv_dataset(csv_set)


def test_csv_empty_file(csv_set):
    csv_set.write_text("")
    with pytest.raises(ImageFolderError, match=r"labels.csv: header row must name .*found an empty file"):
        read_csv_dataset(csv_set)


def test_csv_only_header(csv_set):
    _rewrite(csv_set)
    with pytest.raises(ImageFolderError, match=r"labels.csv: no images listed"):
        read_csv_dataset(csv_set)


def test_csv_missing_file(csv_set):
    _rewrite(csv_set, "images/00000.png,Trouser", "images/gone.png,Trouser")
    with pytest.raises(ImageFolderError, match=r"labels.csv, row 2 \(images/gone.png\): file not found"):
        read_csv_dataset(csv_set)


def test_csv_empty_label(csv_set):
    _rewrite(csv_set, "images/00000.png,Trouser", "images/00001.png,", "images/00002.png,Trouser")
    with pytest.raises(ImageFolderError, match=r"labels.csv, row 2 \(images/00001.png\): empty label"):
        read_csv_dataset(csv_set)


def test_csv_empty_filename_and_short_row(csv_set):
    _rewrite(csv_set, ",Trouser")
    with pytest.raises(ImageFolderError, match=r"labels.csv, row 1: empty file name"):
        read_csv_dataset(csv_set)
    _rewrite(csv_set, "images/00000.png")
    with pytest.raises(ImageFolderError, match=r"labels.csv, row 1 \(images/00000.png\): the row has 1 column\(s\), the header 2"):
        read_csv_dataset(csv_set)


def test_csv_corrupt_image_names_row_and_file(csv_set):
    (csv_set.parent / "images" / "00003.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(ImageFolderError, match=r"labels.csv, row 4: .*00003.png: not a readable image"):
        read_csv_dataset(csv_set, color_mode="grayscale")


@pytest.mark.parametrize("filename, reason", [
    ("/etc/passwd", "absolute path; file names must be relative to the CSV's folder; not opened"),
    ("C:\\\\Windows\\\\win.ini", "absolute path"),
    ("../outside.png", "path leaves the data set's folder \\('..'\\); not opened"),
    ("images/../../outside.png", "path leaves the data set's folder"),
])
def test_csv_rejects_paths_leaving_the_folder(csv_set, filename, reason, monkeypatch):
    opened = []
    import PIL.Image

    monkeypatch.setattr(PIL.Image, "open", lambda *a, **k: opened.append(a) or pytest.fail("opened a file"))
    _rewrite(csv_set, f"{filename},Trouser")
    with pytest.raises(ImageFolderError, match=rf"labels.csv, row 1 \({re.escape(filename)}\): {reason}"):
        read_csv_dataset(csv_set)
    assert not opened


@pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges on Windows")
def test_csv_rejects_symlink_leaving_the_folder(csv_set, tmp_path):
    outside = tmp_path / "secret.png"
    outside.write_bytes((csv_set.parent / "images" / "00000.png").read_bytes())
    (csv_set.parent / "images" / "link.png").symlink_to(outside)
    _rewrite(csv_set, "images/00000.png,Trouser", "images/link.png,Trouser")
    with pytest.raises(ImageFolderError, match=r"labels.csv, row 2 \(images/link.png\): symbolic link pointing outside"):
        read_csv_dataset(csv_set)


def test_csv_symlink_inside_the_folder_is_fine(csv_set):
    (csv_set.parent / "images" / "alias.png").symlink_to(csv_set.parent / "images" / "00000.png")
    _rewrite(csv_set, "images/alias.png,Trouser")
    x, _, _ = read_csv_dataset(csv_set, color_mode="grayscale")
    assert x.shape == (1, 6, 5)


def test_csv_unknown_label_with_class_names(csv_set):
    _rewrite(csv_set, "images/00000.png,Trouser", "images/00001.png,Sandal")
    with pytest.raises(ImageFolderError, match=r"labels.csv, row 2 \(images/00001.png\): label 'Sandal' is not one"):
        read_csv_dataset(csv_set, class_names=CLASSES)
