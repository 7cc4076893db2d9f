"""course_utils.folder_split: stratified, seeded split of a class-folder data set into a new folder."""
import csv
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from course_utils.folder_split import SplitError, format_counts, split_folder_dataset


def _tree_hashes(root: Path) -> dict:
    """Content hash of every file below root (symbolic links by their target path)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[rel] = "dir"
    return out


def _make(root: Path, per_class=None) -> Path:
    per_class = per_class or {"cat": 20, "dog": 20, "fox": 20}
    rng = np.random.default_rng(0)
    for label, n in per_class.items():
        (root / label).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(root / label / f"{label}_{i:03d}.png")
    return root


@pytest.fixture
def src(tmp_path):
    return _make(tmp_path / "images")


def test_copy_mode_makes_stratified_tree_and_counts(src, tmp_path):
    before = _tree_hashes(src)
    counts = split_folder_dataset(src, tmp_path / "split")
    assert set(counts) == {"train", "val", "test"}
    assert counts["train"] == {"cat": 14, "dog": 14, "fox": 14}
    assert counts["val"] == {"cat": 3, "dog": 3, "fox": 3}
    assert counts["test"] == {"cat": 3, "dog": 3, "fox": 3}
    for split, per_class in counts.items():
        for label, n in per_class.items():
            files = list((tmp_path / "split" / split / label).glob("*.png"))
            assert len(files) == n
            for f in files:   # copies are byte-identical to the originals
                assert f.read_bytes() == (src / label / f.name).read_bytes()
    # every image lands in exactly one split
    names = [p.name for p in (tmp_path / "split").rglob("*.png")]
    assert len(names) == len(set(names)) == 60
    assert _tree_hashes(src) == before


def test_src_is_byte_for_byte_unchanged_in_both_modes(src, tmp_path):
    before = _tree_hashes(src)
    split_folder_dataset(src, tmp_path / "a", mode="copy")
    split_folder_dataset(src, tmp_path / "b", mode="index")
    split_folder_dataset(src, tmp_path / "a", mode="copy", overwrite=True)
    assert _tree_hashes(src) == before


def test_same_seed_same_split_other_seed_differs(src, tmp_path):
    split_folder_dataset(src, tmp_path / "a", mode="index", seed=1)
    split_folder_dataset(src, tmp_path / "b", mode="index", seed=1)
    split_folder_dataset(src, tmp_path / "c", mode="index", seed=2)
    a, b, c = ((tmp_path / d / "split.csv").read_text() for d in "abc")
    assert a == b
    assert a != c


def test_index_mode_writes_only_split_csv(src, tmp_path):
    counts = split_folder_dataset(src, tmp_path / "idx", mode="index")
    assert sorted(p.name for p in (tmp_path / "idx").iterdir()) == ["split.csv"]
    with open(tmp_path / "idx" / "split.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["filename", "label", "split"]
    assert len(rows) == 60
    for row in rows:   # file names are relative to src and point at the right class
        assert (src / row["filename"]).is_file()
        assert row["filename"].split("/")[0] == row["label"]
    for split in ("train", "val", "test"):
        for label in ("cat", "dog", "fox"):
            n = sum(1 for r in rows if r["split"] == split and r["label"] == label)
            assert n == counts[split][label]


def test_refuses_dest_inside_src(src):
    before = _tree_hashes(src)
    with pytest.raises(SplitError, match="inside the data set") as err:
        split_folder_dataset(src, src / "split")
    assert str(src / "split") in str(err.value)
    with pytest.raises(SplitError, match="inside the data set"):
        split_folder_dataset(src, src / "cat" / "deeper", mode="index")
    with pytest.raises(SplitError, match="inside the data set"):
        split_folder_dataset(src, src)
    assert _tree_hashes(src) == before


def test_refuses_dest_that_contains_src(tmp_path):
    src = _make(tmp_path / "project" / "images")
    with pytest.raises(SplitError, match="contains the data set"):
        split_folder_dataset(src, tmp_path / "project", overwrite=True)
    assert (src / "cat" / "cat_000.png").exists()


def test_refuses_non_empty_dest_unless_overwrite(src, tmp_path):
    dest = tmp_path / "split"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    with pytest.raises(SplitError, match="not empty") as err:
        split_folder_dataset(src, dest)
    assert str(dest) in str(err.value)
    assert sorted(p.name for p in dest.iterdir()) == ["notes.txt"]   # nothing written

    counts = split_folder_dataset(src, dest, overwrite=True)
    assert (dest / "notes.txt").read_text() == "mine"                  # only the splits are replaced
    assert sum(len(list((dest / "train" / c).iterdir())) for c in counts["train"]) == 42


def test_overwrite_replaces_an_earlier_split(src, tmp_path):
    dest = tmp_path / "split"
    split_folder_dataset(src, dest, seed=1)
    (dest / "train" / "cat" / "stale.png").write_bytes(b"old")
    split_folder_dataset(src, dest, seed=2, overwrite=True)
    assert not (dest / "train" / "cat" / "stale.png").exists()
    assert len(list(dest.rglob("*.png"))) == 60


def test_empty_dest_folder_is_fine(src, tmp_path):
    (tmp_path / "empty").mkdir()
    split_folder_dataset(src, tmp_path / "empty")
    assert (tmp_path / "empty" / "train").is_dir()


def test_missing_src_and_file_src(tmp_path):
    with pytest.raises(SplitError, match="folder not found") as err:
        split_folder_dataset(tmp_path / "nope", tmp_path / "out")
    assert "nope" in str(err.value)
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(SplitError, match="is a file, expected a folder"):
        split_folder_dataset(tmp_path / "file.png", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_fewer_than_two_classes(tmp_path):
    src = _make(tmp_path / "one", {"cat": 10})
    with pytest.raises(SplitError, match="at least two"):
        split_folder_dataset(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_class_too_small_to_stratify_names_it(tmp_path):
    src = _make(tmp_path / "imgs", {"cat": 20, "dog": 1})
    with pytest.raises(SplitError, match="'dog' with 1 images") as err:
        split_folder_dataset(src, tmp_path / "out")
    assert str(src) in str(err.value)
    assert not (tmp_path / "out").exists()


def test_bad_fractions_and_mode(src, tmp_path):
    with pytest.raises(ValueError, match="fractions"):
        split_folder_dataset(src, tmp_path / "out", fractions=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="mode"):
        split_folder_dataset(src, tmp_path / "out", mode="move")


def test_skips_hidden_non_images_and_links_outside(src, tmp_path):
    (src / "cat" / ".DS_Store").write_bytes(b"junk")
    (src / "cat" / "notes.txt").write_text("hello")
    secret = tmp_path / "secret.png"
    secret.write_bytes((src / "cat" / "cat_000.png").read_bytes())
    (src / "dog" / "escape.png").symlink_to(secret)
    with pytest.warns(UserWarning) as rec:
        counts = split_folder_dataset(src, tmp_path / "out")
    message = str(rec[0].message)
    assert "dog/escape.png" in message and "outside" in message
    assert sum(sum(v.values()) for v in counts.values()) == 60
    assert not list((tmp_path / "out").rglob("escape.png"))
    assert not list((tmp_path / "out").rglob("notes.txt")) and not list((tmp_path / "out").rglob(".DS_Store"))


def test_sub_folders_are_kept_in_the_copies(src, tmp_path):
    for sub in ("indoor", "outdoor"):   # the same file name in two sub-folders must not collide
        (src / "cat" / sub).mkdir()
        Image.fromarray(np.full((8, 8, 3), len(sub), np.uint8)).save(src / "cat" / sub / "x.png")
    counts = split_folder_dataset(src, tmp_path / "out")
    assert sum(counts[s]["cat"] for s in counts) == 22
    copies = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("x.png"))
    assert [c.split("/", 2)[2] for c in copies] == ["indoor/x.png", "outdoor/x.png"]
    assert all(c.split("/")[1] == "cat" for c in copies)


def test_empty_class_folder_is_refused(src, tmp_path):
    (src / "owl").mkdir()
    with pytest.raises(SplitError, match="empty class folder") as err:
        split_folder_dataset(src, tmp_path / "out")
    assert "owl" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_split_of_the_example_dataset_reads_back(tmp_path):
    from course_utils.example_dataset import make_example_dataset
    from course_utils.image_folders import list_class_folders

    src = make_example_dataset(tmp_path / "shapes", bad_files=False)
    counts = split_folder_dataset(src, tmp_path / "split")
    for label in ("circle", "square", "triangle"):
        assert sum(counts[split][label] for split in counts) == 30
        assert 20 <= counts["train"][label] <= 22
    for split in counts:   # the course's reader sees exactly what was written
        paths, labels, names = list_class_folders(tmp_path / "split" / split)
        assert names == ["circle", "square", "triangle"] and len(paths) == sum(counts[split].values())


def test_format_counts(src, tmp_path):
    text = format_counts(split_folder_dataset(src, tmp_path / "out", mode="index"))
    assert text.splitlines()[0].split() == ["class", "train", "val", "test"]
    assert text.splitlines()[-1].split() == ["total", "42", "9", "9"]
