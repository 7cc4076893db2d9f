import os
from pathlib import Path

import pytest

from course_tools.testing import missing_real_data

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def shared_data():
    """The real data sets (COURSE_DATA_DIR, else ../shared/datasets); tests needing them skip without, or fail
    when ``COURSE_REQUIRE_REAL_DATA=1`` (the CI, where a skipped real-data test would hide a missing cache)."""
    path = Path(os.environ.get("COURSE_DATA_DIR") or SHARED)
    if not (path / "fashion-mnist").is_dir():
        missing_real_data(f"real data not found at {path}")
    return path


@pytest.fixture(scope="session")
def v1_weights(shared_data):
    """The MobileNet v1 ImageNet weights file beside the real data (skips, or fails under the same rule, without)."""
    from course_utils import backbones

    path = shared_data / "weights" / backbones.WEIGHTS_FILE
    if not path.is_file():
        missing_real_data(f"{path} not found")
    return path


@pytest.fixture
def mixed_precision():
    """The GPU's dtype policy (mixed_float16) for one test; the previous one afterwards, whatever happens."""
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No local copies and no network: only the embedded fallback is available."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr("course_utils.data.course_datasets_dir", lambda: tmp_path / "empty-datasets")
    return tmp_path


@pytest.fixture
def random_dataset():
    """Make a ``data.Dataset`` of random uint8 images: ``random_dataset(name, n_train, n_test, image_shape)``.

    Labels cycle through the ten classes, so every class is present; for tests about what flows where, not what is
    learned.
    """
    import numpy as np

    from course_utils import data

    def make(name: str, n_train: int, n_test: int, image_shape: tuple, source: str = "test"):
        rng = np.random.default_rng(0)
        x_train = rng.integers(0, 256, (n_train, *image_shape), dtype=np.uint8)
        x_test = rng.integers(0, 256, (n_test, *image_shape), dtype=np.uint8)
        return data.Dataset(name, x_train, np.arange(n_train) % 10, x_test, np.arange(n_test) % 10,
                            [f"class {i}" for i in range(10)], source=source)

    return make
