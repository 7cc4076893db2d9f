"""course_utils: the helper package shared by the notebooks of the course
"Image classification with deep learning, in Jupyter notebooks".

One module per concern (see CONTRIBUTING.md): ``context`` (``Run``: a notebook run's mode, seed and folders),
``config``, ``download``, ``data``, ``image_folders``, ``check_dataset``, ``folder_split``, ``pipeline``,
``plots``, ``models``, ``train``, ``evaluate``, ``explain``, ``transfer``, ``tuning``, and the
course's commands ``run``, ``testing``, ``bench``, ``exercises``, ``colab``, ``record``.
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

__version__ = "0.1.0"
__all__ = ["Run", "Trained"]
