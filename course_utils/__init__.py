"""course_utils: the learner's library, what the notebooks of the course
"Image classification with deep learning, in Jupyter notebooks" import.

One module per concern (CONTRIBUTING.md draws the layout): ``context`` (``Run``: a notebook run's mode, seed,
precision and folders), ``config``, ``download``, ``data``, ``layouts``, ``image_folders``, ``check_dataset``,
``folder_split``, ``example_dataset``, ``pipeline``, ``models``, ``train``, ``evaluate``, ``explain``,
``backbones``, ``transfer``, ``tuning``, ``plots``. The course's own commands (runner, tests, benchmarks, site)
are in ``course_tools``, which imports this package and is never imported by it.
"""
import os as _os


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up lines (oneDNN, CUDA probing) kept off the notebook.

    Those lines are written to the process's stderr before TensorFlow's logging is set up, so
    ``TF_CPP_MIN_LOG_LEVEL`` does not silence them; Python errors still surface as usual.
    """
    import sys

    if "tensorflow" in sys.modules:
        return
    _os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        saved = _os.dup(2)
    except OSError:  # no real stderr (some embedded interpreters)
        return
    try:
        with open(_os.devnull, "w") as devnull:
            _os.dup2(devnull.fileno(), 2)
            try:
                import tensorflow  # noqa: F401
            except ImportError:
                pass  # the setup cell's own import reports it
    finally:
        _os.dup2(saved, 2)
        _os.close(saved)


_import_tensorflow_quietly()

from .context import Run, Trained  # noqa: E402

__version__ = "0.2.0"
__all__ = ["Run", "Trained"]
