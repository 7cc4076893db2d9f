"""make bench PART=layout: fast_cnn channels last and channels first, in turns (issue 15, item 3)."""
import json

import numpy as np

from course_tools.bench import layout
from course_utils import models


def test_the_channels_first_copy_is_the_same_model_on_transposed_images():
    model = models.fast_cnn((16, 16, 3), 4, widths=(8, 16, 16))
    rng = np.random.default_rng(0)
    models.set_whitening(model, rng.random((64, 16, 16, 3), dtype=np.float32))
    for layer in model.layers:  # statistics that are not the identity, so that a wrong axis would show
        if layer.__class__.__name__ == "BatchNormalization":
            layer.moving_mean.assign(rng.normal(0, 0.5, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, layer.moving_variance.shape))
    copy = layout.channels_first_copy(model)
    formats = {layer.data_format for layer in copy.layers if hasattr(layer, "data_format")}
    assert formats == {"channels_first"}
    assert {layer.axis for layer in copy.layers if layer.__class__.__name__ == "BatchNormalization"} == {1}
    assert tuple(copy.input_shape) == (None, 3, 16, 16)
    images = rng.random((5, 16, 16, 3), dtype=np.float32)
    np.testing.assert_allclose(copy.predict(images.transpose(0, 3, 1, 2), verbose=0), model.predict(images, verbose=0),
                               rtol=1e-4, atol=1e-5)


def test_layouts_take_turns_in_each_precision_and_the_file_holds_every_row(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_BENCH_LAYOUT_STEPS", "1")
    monkeypatch.setenv("COURSE_BENCH_LAYOUT_REPEATS", "2")
    monkeypatch.setenv("COURSE_BENCH_LAYOUT_BATCH", "8")
    monkeypatch.setattr(layout, "precisions", lambda: ["float32"])
    monkeypatch.setattr(layout, "WARMUP_STEPS", 1)
    rows = layout.run(tmp_path)
    assert [(r["precision"], r["layout"], r["repeat"]) for r in rows] == [
        ("float32", "channels_last", 1), ("float32", "channels_first", 1),
        ("float32", "channels_last", 2), ("float32", "channels_first", 2)]
    assert all(r["images_per_second"] > 0 and r["batch_size"] == 8 for r in rows)
    assert rows[0]["widths"] == [64, 128, 256]  # CIFAR-10's course_fast
    assert json.loads((tmp_path / "layout.json").read_text()) == rows
