"""course_tools.bench.machine: counted FLOPs of small models, checked by hand, and the matmul rate."""
import keras
import pytest

from course_tools.bench import machine


def test_flops_of_a_small_cnn_counted_by_hand():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)           # 8*8*4 outputs, 3*3*3 multiply-adds each
    x = keras.layers.MaxPooling2D()(x)                              # not counted
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)          # 4*4*4 outputs, 3*3 each
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(10)(x)                             # 64 inputs * 10 units
    model = keras.Model(inputs, outputs)
    forward = 2 * (8 * 8 * 4 * 3 * 3 * 3 + 4 * 4 * 4 * 3 * 3 + 64 * 10)
    assert machine.forward_flops_per_image(model) == forward
    assert machine.training_flops_per_image(model) == 3 * forward


def test_nested_models_and_dense_over_positions_are_counted():
    inner = keras.Sequential([keras.Input((4, 4, 2)), keras.layers.Conv2D(3, 1)])   # 4*4*3 outputs, 2 each
    inputs = keras.Input((4, 4, 2))
    outputs = keras.layers.Dense(5)(inner(inputs))                                  # per position: 3*5
    model = keras.Model(inputs, outputs)
    assert machine.forward_flops_per_image(model) == 2 * (4 * 4 * 3 * 2 + 4 * 4 * 3 * 5)


def test_achieved_rate_and_share():
    model = keras.Sequential([keras.Input((100,)), keras.layers.Dense(50)])   # 2*100*50 = 10,000 forward
    row = machine.achieved(model, images_per_second=1000.0, machine_gflops=0.3)
    assert row == {"images_per_second": 1000.0, "gflops_per_second": 0.0, "share_of_matmul": 0.1}


def test_matmul_rate_is_measured():
    rate = machine.matmul_gflops(size=256, repeats=2)
    assert 0.1 < rate < 1e6, "a plausible GFLOP/s figure for any CPU or GPU"
