"""make bench PART=threads: thread settings in turns, one row per measurement (issue 15, item 3)."""
import json

import pytest

from course_tools.bench import threads
from course_utils import data


def test_settings_take_turns_and_each_row_says_its_rate(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_BENCH_DATASETS", raising=False)
    monkeypatch.setenv("COURSE_BENCH_THREADS_IMAGES", "1000")
    monkeypatch.setenv("COURSE_BENCH_THREADS_REPEATS", "2")
    calls = []

    def fake(dataset, intra, inter, images):
        calls.append((dataset, intra, inter, images))
        return [9.0, 2.0, 3.0 if intra == 1 else 2.0]  # the first epoch (tracing) is left out of the rate

    rows = threads.run(tmp_path, measure=fake)
    assert calls == [("cifar10", a, b, 1000) for a, b in threads.SETTINGS] * 2  # ABAB..., CIFAR-10 by default
    assert [r["repeat"] for r in rows] == [1] * len(threads.SETTINGS) + [2] * len(threads.SETTINGS)
    by_setting = {(r["intra_op"], r["inter_op"]): r["images_per_second"] for r in rows}
    assert by_setting[(2, 2)] == 500.0 and by_setting[(1, 1)] == 400.0
    assert json.loads((tmp_path / "threads.json").read_text()) == rows


def test_a_bad_count_names_its_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_BENCH_THREADS_REPEATS", "two")
    with pytest.raises(ValueError, match="COURSE_BENCH_THREADS_REPEATS"):
        threads.run(tmp_path, measure=lambda *a: [1.0])


def test_epoch_seconds_times_every_epoch_of_course_fast(monkeypatch, random_dataset):
    ds = random_dataset("fashion_mnist", 300, 20, (28, 28))
    monkeypatch.setattr(data, "load_dataset", lambda name, **kw: ds)
    seconds = threads.epoch_seconds("fashion_mnist", 0, 0, images=256, epochs=2)  # 0, 0: TensorFlow's defaults
    assert len(seconds) == 2 and all(s > 0 for s in seconds)
