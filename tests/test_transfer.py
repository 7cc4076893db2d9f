"""course_utils.transfer: the recipe notebook 07 teaches (the same code as its cells: tests/test_lesson_sources.py
checks that), and make bench PART=transfer. Where the weights come from: tests/test_backbones.py."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils import transfer


def _random_base(size=32, n_layers=None):
    """MobileNet (alpha 0.25) with random weights, frozen as pretrained_base leaves it."""
    base = transfer.pretrained_base(None, size)
    if n_layers:
        transfer.unfreeze_top(base, n_layers)
    return base


def _images(n, size=16, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype("float32")


def _stripes(per_class, size=16, seed=0):
    """A tiny separable task: horizontal, vertical or diagonal stripes (classes 0, 1, 2), with pixel noise."""
    rng = np.random.default_rng(seed)
    rows, cols = np.indices((size, size))
    patterns = np.stack([rows // 2 % 2, cols // 2 % 2, (rows + cols) // 2 % 2]) * 200.0
    y = rng.permutation(np.repeat(np.arange(3), per_class))
    x = patterns[y][..., None].repeat(3, axis=-1) + rng.normal(0, 20, (len(y), size, size, 3))
    return np.clip(x, 0, 255).astype("float32"), y


# --- the recipe -----------------------------------------------------------------------------------

def test_model_resizes_and_preprocesses_inside():
    """Plain [0, 255] pixels in: the model does resize → preprocess_input → backbone itself."""
    base = _random_base(32)
    model = transfer.build_transfer_model(base, 4, (16, 16, 3))
    gap = next(layer for layer in model.layers if isinstance(layer, keras.layers.GlobalAveragePooling2D))
    features = keras.Model(model.inputs, gap.output)
    x = _images(3)
    by_hand = base(keras.applications.mobilenet.preprocess_input(tf.image.resize(x, (32, 32))), training=False)
    np.testing.assert_allclose(features.predict(x, verbose=0), np.mean(np.asarray(by_hand), axis=(1, 2)),
                               rtol=1e-4, atol=1e-5)


def test_under_mixed_precision_the_head_outputs_float32_probabilities(mixed_precision):
    base = transfer.pretrained_base(None, 32)
    model = transfer.build_transfer_model(base, 5, (16, 16, 3))
    assert base.get_layer("conv_pw_13").compute_dtype == "float16", "the backbone does compute in float16"
    probs = model(_images(4), training=False)
    assert probs.dtype == "float32"
    np.testing.assert_allclose(np.sum(np.asarray(probs), axis=1), 1.0, atol=1e-6)


def test_feature_extraction_learns_a_separable_task_and_the_frozen_base_does_not_move(v1_weights):
    keras.utils.set_random_seed(0)
    base = transfer.pretrained_base(str(v1_weights), 64)
    model = transfer.build_transfer_model(base, 3, (16, 16, 3))
    before = [np.asarray(w).copy() for w in base.weights]  # kernels and batch-norm statistics
    head_before = np.asarray(model.layers[-1].kernel).copy()
    x, y = _stripes(10)
    transfer.compile_and_fit(model, tf.data.Dataset.from_tensor_slices((x, y)).batch(30), None, 10, lr=1e-2,
                             verbose=0)
    x_test, y_test = _stripes(20, seed=1)
    assert model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"] >= 0.9  # chance: 1/3
    for b, a in zip(before, base.weights):
        np.testing.assert_array_equal(b, np.asarray(a))
    assert not np.allclose(head_before, model.layers[-1].kernel), "only the head learned"


def test_unfreeze_top_keeps_lower_layers_and_batch_norm_frozen():
    base = _random_base(32, n_layers=25)
    trainable = [layer.name for layer in base.layers if layer.trainable and layer.weights]
    assert trainable == [f"conv_{kind}_{block}" for block in (10, 11, 12, 13) for kind in ("dw", "pw")]
    assert all(not layer.trainable for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization))


def test_fine_tuning_moves_only_the_unfrozen_layers_and_keeps_batch_norm_statistics(v1_weights):
    keras.utils.set_random_seed(0)
    base = transfer.pretrained_base(str(v1_weights), 32)
    model = transfer.build_transfer_model(base, 3, (16, 16, 3))
    before = {w.path: np.asarray(w).copy() for w in base.weights}
    transfer.unfreeze_top(base, 25)
    ds = tf.data.Dataset.from_tensor_slices((_images(16), np.arange(16) % 3)).batch(8)
    transfer.compile_and_fit(model, ds, None, 1, lr=1e-2, verbose=0)
    moved = {w.path.split("/")[-2] for w in base.weights if not np.array_equal(np.asarray(w), before[w.path])}
    top = {f"conv_{kind}_{block}" for block in (10, 11, 12, 13) for kind in ("dw", "pw")}
    assert moved == top, "only the unfrozen convolutions move; batch norm (scale, shift, statistics) does not"


def test_compile_and_fit_continues_the_epoch_count():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((4, 2), "float32"), np.array([0, 1, 0, 1]))).batch(2)
    assert transfer.compile_and_fit(model, ds, ds, 2, verbose=0).epoch == [0, 1]
    history = transfer.compile_and_fit(model, ds, ds, 5, lr=1e-4, initial_epoch=2, verbose=0)
    assert history.epoch == [2, 3, 4] and len(history.history["val_accuracy"]) == 3
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-4), "recompiled with the new learning rate"


def test_compare_by_size_draws_n_per_class_and_transfer_learns(v1_weights, monkeypatch):
    x, y = _stripes(12)
    x_test, y_test = _stripes(20, seed=1)
    test_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(25)
    fits = []
    fit_recipe = transfer.train.fit_recipe

    def spy(recipe, x_train, y_train, x_eval, y_eval, num_classes, **kwargs):
        fits.append((recipe, x_train.dtype, len(x_train), len(x_eval), kwargs["epochs"]))
        return fit_recipe(recipe, x_train, y_train, x_eval, y_eval, num_classes, **kwargs)

    monkeypatch.setattr(transfer.train, "fit_recipe", spy)
    rows = transfer.compare_by_size(str(v1_weights), (x, y), test_ds, 3, [10], 64, 10, 1, 3, head_lr=1e-2)
    assert [(r["per_class"], r["method"]) for r in rows] == [
        (10, m) for m in ("from scratch", "feature extraction", "fine-tuning")]
    assert [r["train_images"] for r in rows] == [30] * 3  # 10 of each class out of 12
    # from scratch: notebook 05's fast recipe at the transfer models' batch size, as many epochs, every test image
    [(recipe, dtype, n_train, n_test, epochs)] = fits
    assert (recipe.name, recipe.build, recipe.batch_size) == ("course_fast", "fast_cnn", 32)
    assert (dtype, n_train, n_test, epochs) == (np.uint8, 30, 60, 11)
    accuracy = {r["method"]: r["test_accuracy"] for r in rows}
    assert min(accuracy.values()) >= 0.9, accuracy  # chance: 1/3


def test_the_size_plot_labels_exactly_the_sizes_measured():
    import matplotlib

    matplotlib.use("Agg")
    from course_utils import plots

    rows = [{"per_class": n, "method": m, "test_accuracy": a}
            for n, a in ((20, 0.5), (100, 0.7), (500, 0.8)) for m in ("from scratch", "fine-tuning")]
    fig = plots.accuracy_by_train_size(rows, chance=0.2)
    ax = fig.axes[0]
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["20", "100", "500"]
    assert [t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()] == []  # no 3×10¹ and the like
    assert [line.get_label() for line in ax.get_lines()] == ["from scratch", "fine-tuning", "chance"]
    matplotlib.pyplot.close(fig)


def test_saved_model_round_trip(tmp_path):
    model = transfer.build_transfer_model(_random_base(32), 5, (16, 16, 3))
    path = tmp_path / "model.keras"
    model.save(path)
    x = _images(4)
    np.testing.assert_allclose(keras.models.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_weight_change_counts_only_unfrozen_weights():
    before = _random_base(32)  # frozen, as a reference copy is in the notebook
    after = transfer.pretrained_base(None, 32)
    after.set_weights(before.get_weights())
    transfer.unfreeze_top(after, 3)  # conv_pw_13 and its batch norm (frozen) and ReLU
    assert transfer.weight_change(before, after) == 0.0
    layer = after.get_layer("conv_pw_13")
    layer.kernel.assign(layer.kernel * 2.0)
    assert transfer.weight_change(before, after) == pytest.approx(1.0, rel=1e-5)
    frozen = after.get_layer("conv1")
    frozen.kernel.assign(frozen.kernel * 5.0)  # frozen: not counted
    assert transfer.weight_change(before, after) == pytest.approx(1.0, rel=1e-5)


# --- make bench PART=transfer ----------------------------------------------------------------------

def test_bench_transfer_wires_the_experiments(v1_weights, tmp_path, monkeypatch, random_dataset):
    """Part 1 trains for real (one epoch each); parts 2 and 3 run notebook 07's compare_by_size and the course's
    pretraining (tested above and in test_backbones.py), so here stand-ins record what the bench gives them. The
    data: CIFAR-shaped random images (what flows where is the point, not what is learned)."""
    from course_tools.bench import transfer as bench_transfer

    small = random_dataset("cifar10", 300, 100, (32, 32, 3), source="random, CIFAR-shaped")
    monkeypatch.setattr(bench_transfer.data, "load_dataset", lambda *a, **k: small)
    compared, pretrained = [], []

    def fake_compare(weights, train, test_ds, num_classes, sizes, *args, **kwargs):
        x, y = train
        test_labels = np.concatenate([labels for _, labels in test_ds.as_numpy_iterator()])
        compared.append({"weights": str(weights), "counts": np.bincount(y).tolist(), "num_classes": num_classes,
                         "test_classes": np.unique(test_labels).tolist(), "max_pixel": float(x.max())})
        return [{"per_class": sizes[0], "train_images": len(y), "method": method, "test_accuracy": 0.5,
                 "seconds": 0.0} for method in ("from scratch", "feature extraction", "fine-tuning")]

    def fake_pretrain(x, y, path, *args, **kwargs):
        pretrained.append(np.unique(y).tolist())
        return path

    monkeypatch.setattr(bench_transfer.transfer, "compare_by_size", fake_compare)
    monkeypatch.setattr(bench_transfer.backbones, "pretrain_weights", fake_pretrain)
    rows = bench_transfer.run(tmp_path, full_head_epochs=1, full_ft_epochs=1, size=32, per_class=3,
                              weights_dir=v1_weights.parent)
    assert [r["experiment"] for r in rows] == ["full CIFAR-10"] * 2 + ["3 per class, 10 classes"] * 3 + [
        "3 per class, CIFAR classes 5-9"] * 6
    assert [r["source"] for r in rows[-6:]] == ["course-pretrained"] * 3 + ["imagenet-local"] * 3
    assert rows[0]["train_images"] == 270  # 300 less 30 for validation
    assert rows[1]["beats_reference"] == (rows[1]["test_accuracy"] > bench_transfer.REFERENCE_CNN)
    assert json.loads((tmp_path / "transfer.json").read_text()) == rows
    # 3 images of each class, pixels in [0, 255]; the target task is classes 5-9 relabelled 0-4, tested on them
    assert [c["counts"] for c in compared] == [[3] * 10, [3] * 5, [3] * 5]
    assert [c["test_classes"] for c in compared] == [list(range(10)), list(range(5)), list(range(5))]
    assert all(c["max_pixel"] > 1 for c in compared)
    assert pretrained == [[0, 1, 2, 3, 4]], "the course's weights learn only the source classes"
    assert compared[2]["weights"] == str(v1_weights) and compared[1]["weights"] != str(v1_weights)
