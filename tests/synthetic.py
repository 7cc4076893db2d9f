"""Small learnable image tasks the tests share (deterministic for a seed)."""
import numpy as np

SIZE = 16


def square_images(n, seed=0):
    """Noisy 16x16 images: class 0 has one bright 4x4 square (in the left or right half), class 1 is noise only.

    Returns images, labels and the side of the square (0: left, 1: right; meaningless for class 1).
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 0.3, size=(n, SIZE, SIZE, 1)).astype("float32")
    y = rng.integers(0, 2, size=n)
    side = rng.integers(0, 2, size=n)
    for i in np.flatnonzero(y == 0):
        col = rng.integers(0, SIZE // 2 - 4 + 1) + (SIZE // 2 if side[i] else 0)
        row = rng.integers(0, SIZE - 4 + 1)
        x[i, row:row + 4, col:col + 4, 0] = 1.0
    return x, y, side


def bars(n, seed=0):
    """A bright bar in the left, middle or right third of a noisy 28x28 uint8 image (classes 0, 1, 2)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 3, size=n)
    for i in range(n):
        row = rng.integers(2, 18)
        x[i, row:row + 8, 2 + 9 * y[i]:8 + 9 * y[i]] = 255
    return x, y.astype(np.uint8)
