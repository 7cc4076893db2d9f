"""Seeds, versions, paths and device: the settings every notebook shares, through its run context.

Notebooks do not call this module directly: :class:`course_utils.Run` (``context.py``) seeds, checks versions and
prints the setup with it.
"""
from __future__ import annotations

import os
import platform
import random
import sys
from pathlib import Path

import numpy as np

MODES = ("full", "smoke", "lecture")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
DEFAULT_SEED = 42

#: The one place the repository URL lives (Colab badges and install cells are built from it).
REPOSITORY_URL = "https://github.com/image-classification-course/course"
#: The release these notebooks belong to (``v`` + the version in pyproject.toml): Colab's setup cell installs the
#: package from this tag, so a notebook saved today keeps working with the library it was written for.
COURSE_REF = "v0.2.0"


def get_mode(mode: str | None = None) -> str:
    """Return the run mode: the argument, else ``COURSE_MODE``, else ``"full"``."""
    mode = (mode or os.environ.get("COURSE_MODE") or "full").strip().lower()
    if mode not in MODES:
        raise ValueError(f"COURSE_MODE must be one of {MODES}, got {mode!r}")
    return mode


def repo_root() -> Path | None:
    """The course checkout this package was installed from, or None (e.g. a plain pip install)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").exists() and (root / "notebooks").is_dir() else None


def recorded_full_run() -> dict | None:
    """The course's recorded full run, ``results/metrics-full.json`` (notebook name -> metrics), or None."""
    import json

    root = repo_root()
    path = root / "results" / "metrics-full.json" if root else None
    return json.loads(path.read_text()) if path and path.exists() else None


def set_seed(seed: int = DEFAULT_SEED, deterministic: bool | None = None) -> int:
    """Seed Python, NumPy, TensorFlow and Keras in one call, and choose whether TF ops are deterministic.

    Every notebook calls this once, through its :class:`course_utils.Run`, so a run is repeatable.
    ``deterministic`` makes TensorFlow's ops repeatable: None means on a CPU, where it costs little, and not on a GPU,
    where deterministic kernels are slower and some ops raise instead of running; True asks for it anywhere. Once
    on, it stays on for the rest of the process (TensorFlow has no public switch back).
    """
    import keras
    import tensorflow as tf

    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    if deterministic is None:
        deterministic = gpu_count() == 0
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return seed


def gpu_count() -> int:
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def bfloat16_is_fast() -> bool:
    """Whether bfloat16 math runs natively here: on a GPU of compute capability 8.0 or later (A100, L4, H100; not
    Colab's T4), or a CPU with AVX512-BF16 or AMX (Linux's ``/proc/cpuinfo``). Elsewhere it is emulated, slower."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability") or (0, 0)
        return tuple(capability) >= (8, 0)
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def default_precision() -> str:
    """The dtype policy for this machine: ``"mixed_float16"`` on a GPU (about twice as fast), else ``"float32"``
    (a CPU only emulates float16, which is slower)."""
    return "mixed_float16" if gpu_count() else "float32"


def set_precision(policy: str) -> str:
    """Make ``policy`` Keras's global dtype policy: layers built afterwards compute in it (weights stay float32)."""
    import keras

    if policy not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {policy!r}")
    keras.mixed_precision.set_global_policy(policy)
    return policy


def distribution_strategy():
    """``MirroredStrategy`` over every GPU when there are two or more (one model copy each), else the default."""
    import tensorflow as tf

    return tf.distribute.MirroredStrategy() if gpu_count() > 1 else tf.distribute.get_strategy()


def device_summary() -> dict:
    """TensorFlow/Keras versions and the devices training will use."""
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "device": f"{len(gpus)} GPU(s)" if gpus else "CPU only",
        "gpus": [g.name for g in gpus],
        "in_colab": in_colab(),
        "hosted": hosted_platform(),
    }


def in_colab() -> bool:
    return "google.colab" in sys.modules


def hosted_platform() -> str | None:
    """``"Colab"`` or ``"Kaggle"`` when the notebook runs there (their own TensorFlow, no course checkout), else None."""
    if in_colab():
        return "Colab"
    if os.environ.get("KAGGLE_KERNEL_RUN_TYPE") or os.environ.get("KAGGLE_URL_BASE"):
        return "Kaggle"
    return None


def print_setup(mode: str | None = None, seed: int | None = None) -> dict:
    """Print versions, device and mode: the first output of every notebook."""
    info = device_summary()
    info["mode"] = get_mode(mode)
    print(f"Python {info['python']} | TensorFlow {info['tensorflow']} | Keras {info['keras']}")
    print(f"Device: {info['device']} | mode: {info['mode']}" + (f" | seed: {seed}" if seed is not None else ""))
    if not info["gpus"]:
        where = {"Colab": "Runtime > Change runtime type > GPU",
                 "Kaggle": "Settings > Accelerator > GPU"}.get(info["hosted"], "a machine with a GPU")
        print(f"No GPU found: training runs on the CPU (fine for this course; faster on {where}).")
    return info


#: The versions the notebooks were written and tested with (requirements.txt pins them).
WRITTEN_FOR = {"tensorflow": "2.21", "keras": "3.15"}


def check_versions(strict: bool = False) -> dict:
    """Fail loudly on Keras 2 (the notebooks need Keras 3); warn when versions differ from the tested ones."""
    import warnings

    import keras
    import tensorflow as tf

    found = {"tensorflow": tf.__version__, "keras": keras.__version__}
    if int(keras.__version__.split(".")[0]) < 3:
        raise RuntimeError(f"Keras {keras.__version__} found; this course needs Keras 3: "
                           + ("pip install 'keras>=3.8' in a cell, then restart the runtime" if hosted_platform()
                              else "run the course's environment (`make lab` in the course folder)"))
    hosted = hosted_platform()
    for name, wanted in WRITTEN_FOR.items():
        if not found[name].startswith(wanted):
            advice = (f"keep {hosted}'s own {name} (replacing it breaks the runtime's GPU set-up); if a cell "
                      "fails, restart the runtime and report it with this line" if hosted else
                      "if something breaks, run the course's own environment (`make lab` or `python3 course.py lab` "
                      "in the course folder), which installs the tested versions")
            message = (f"{name} {found[name]} is installed; the notebooks were tested with {wanted}.x. "
                       f"They should work; {advice}.")
            if strict:
                raise RuntimeError(message)
            warnings.warn(message, stacklevel=2)
    return found
