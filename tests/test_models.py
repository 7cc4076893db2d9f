"""Model builders: the reference recipes' layers and parameter counts (worked out by hand), the course models."""
import keras
import numpy as np
import pytest

from course_utils import models


def _layer_summary(model):
    return [(type(layer).__name__, layer.count_params()) for layer in model.layers
            if not isinstance(layer, keras.layers.InputLayer)]


def test_fashion_reference_layers_and_parameters():
    conv1 = 3 * 3 * 1 * 32 + 32          # 320
    conv2 = 3 * 3 * 32 * 64 + 64         # 18,496
    flat = 5 * 5 * 64                    # 28 -conv-> 26 -pool-> 13 -conv-> 11 -pool-> 5
    dense1 = flat * 128 + 128            # 204,928
    dense2 = 128 * 10 + 10               # 1,290
    model = models.fashion_reference_cnn()
    assert _layer_summary(model) == [("Conv2D", conv1), ("MaxPooling2D", 0), ("Conv2D", conv2), ("MaxPooling2D", 0),
                                     ("Flatten", 0), ("Dropout", 0), ("Dense", dense1), ("Dense", dense2)]
    assert model.count_params() == 225_034 == conv1 + conv2 + dense1 + dense2
    assert model.layers[-3].input.shape[-1] == flat
    assert model.get_layer(index=6).rate == pytest.approx(0.3)
    # notebook 04's tables and figures name the layers
    assert [layer.name for layer in model.layers[1:]] == ["conv1", "pool1", "conv2", "pool2", "flatten", "dropout",
                                                          "dense", "probabilities"]


def test_cifar_reference_layers_and_parameters():
    conv1 = 3 * 3 * 3 * 32 + 32          # 896
    conv2 = 3 * 3 * 32 * 64 + 64         # 18,496
    conv3 = 3 * 3 * 64 * 64 + 64         # 36,928
    flat = 8 * 8 * 64                    # 'same' padding: 32 -pool-> 16 -pool-> 8
    dense1 = flat * 64 + 64              # 262,208
    dense2 = 64 * 10 + 10                # 650
    model = models.cifar_reference_cnn()
    assert _layer_summary(model) == [("Conv2D", conv1), ("MaxPooling2D", 0), ("Conv2D", conv2), ("MaxPooling2D", 0),
                                     ("Conv2D", conv3), ("Flatten", 0), ("Dense", dense1), ("Dense", dense2)]
    assert model.count_params() == 319_178 == conv1 + conv2 + conv3 + dense1 + dense2
    assert all(layer.padding == "same" for layer in model.layers if isinstance(layer, keras.layers.Conv2D))


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
@pytest.mark.parametrize("builder", [models.course_cnn, models.small_cnn, models.course_resnet])
def test_course_models_build_for_grey_and_rgb(builder, shape):
    model = builder(input_shape=shape, num_classes=7)
    assert model.output.shape == (None, 7)
    out = model(keras.ops.zeros((2, *shape)), training=False)
    assert tuple(out.shape) == (2, 7)
    assert keras.ops.convert_to_numpy(keras.ops.sum(out, axis=1)) == pytest.approx([1.0, 1.0], abs=1e-5)


def test_small_cnn_remedies_switch_layers_on():
    plain = models.small_cnn()
    assert not any(isinstance(layer, (keras.layers.Dropout, keras.layers.BatchNormalization)) for layer in plain.layers)
    assert plain.count_params() == models.fashion_reference_cnn().count_params()  # same layout, no dropout
    remedied = models.small_cnn(dropout=0.3, l2=1e-4, batchnorm=True)
    kinds = {type(layer).__name__ for layer in remedied.layers}
    assert {"Dropout", "BatchNormalization"} <= kinds
    assert len(remedied.losses) > 0  # the L2 penalties


def test_parameter_table_arithmetic():
    rows = models.parameter_table(models.fashion_reference_cnn())
    assert rows[0]["arithmetic"] == "(3·3·1 + 1)·32" and rows[0]["parameters"] == 320
    assert rows[0]["output shape"] == (26, 26, 32)
    assert rows[6]["arithmetic"] == "(1600 + 1)·128" and rows[6]["parameters"] == 204_928
    assert sum(r["parameters"] for r in rows) == 225_034


def test_receptive_fields_of_the_reference():
    rows = models.receptive_fields(models.fashion_reference_cnn())
    # conv3: 3; pool2: 3 + 1·1 = 4; conv3 at jump 2: 4 + 2·2 = 8; pool2: 8 + 1·2 = 10
    assert [r["receptive field"] for r in rows] == [3, 4, 8, 10]
    assert [r["jump"] for r in rows] == [1, 2, 2, 4]
    assert rows[-1]["output size"] == (5, 5)


def test_receptive_field_figure_draws_one_square_per_layer():
    """Notebook 04's figure: the centre unit's field after each layer of the reference, as nested squares."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from course_utils import plots

    names, sizes, starts = ["conv1", "pool1", "conv2", "pool2"], [3, 4, 8, 10], [13, 12, 10, 8]
    fig = plots.receptive_field_figure(names, sizes, starts, image=np.zeros((28, 28, 1), dtype="uint8"))
    squares = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
    assert [(p.get_x() + 0.5, p.get_width(), p.get_height()) for p in squares] == list(zip(starts, sizes, sizes))
    assert list(fig.axes[1].lines[0].get_ydata()) == sizes
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == names
    plt.close(fig)
    with pytest.raises(ValueError, match="differ in length"):
        plots.receptive_field_figure(names, sizes[:3], starts, image_size=28)
    with pytest.raises(ValueError, match="image_size"):
        plots.receptive_field_figure(names, sizes, starts)


def _squares(n, rng):
    """Ten classes, each a bright square at its own place on a noisy background: learnable in a few steps."""
    y = rng.integers(0, 10, n)
    x = rng.normal(0.2, 0.1, size=(n, 28, 28, 1)).astype("float32")
    for i, c in enumerate(y):
        row, col = divmod(int(c), 5)
        x[i, 2 + 12 * row: 10 + 12 * row, 1 + 5 * col: 6 + 5 * col] += 0.7
    return x.clip(0, 1), y


@pytest.mark.parametrize("builder", [lambda: models.small_cnn(batchnorm=True), lambda: models.course_cnn()])
def test_batchnorm_models_are_usable_after_a_quick_run(builder):
    """60 training steps (a smoke or lecture run) must leave BatchNorm's moving averages usable at inference time.

    With Keras' default momentum (0.99) this model scores about 30% here, far below its training accuracy.
    """
    from course_utils import config, train

    config.set_seed(0)
    rng = np.random.default_rng(0)
    x, y = _squares(1920, rng)
    x_test, y_test = _squares(500, rng)
    model = train.compile_model(builder(), learning_rate=3e-3)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"] > 0.9


def test_notebook_05_sets_the_same_constants_as_the_package():
    """Notebook 05's cell that teaches ``small_cnn`` sets ``BN_MOMENTUM`` itself; the lesson-source test compares
    functions only, so the constants of cells marked as also in ``course_utils.models`` are compared here."""
    import ast

    import nbformat

    from course_tools.run import list_notebooks

    path = next(p for p in list_notebooks() if p.stem == "05_training")
    marked = [c.source for c in nbformat.read(path, as_version=4).cells
              if c.cell_type == "code" and c.source.startswith("# Also in course_utils.models")]
    constants = {target.id: ast.literal_eval(node.value) for source in marked for node in ast.parse(source).body
                 if isinstance(node, ast.Assign) for target in node.targets if isinstance(target, ast.Name)}
    assert constants.get("BN_MOMENTUM") == models.BN_MOMENTUM, constants
    for name, value in constants.items():
        assert getattr(models, name) == value, f"notebook 05 sets {name} = {value!r}, the package {getattr(models, name)!r}"
