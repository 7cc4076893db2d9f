"""One notebook run's context: mode, seed, data folder, and where results go.

Every notebook makes one, right under its parameters cell::

    run = Run(MODE, seed=SEED, data_dir=DATA_DIR, build_dir=BUILD_DIR, artifacts_dir=ARTIFACTS_DIR)

It seeds everything, prints the versions and the device, and from then on the notebook passes ``run`` (or plain
values) to whatever needs the mode or a folder: nothing below reads ``COURSE_*`` environment variables. The
mode decides sizes through :meth:`Run.by_mode`, and whether a trained model is reused through
:meth:`Run.load_or_train`; no notebook cell needs an ``if MODE == ...``.
"""
from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import config


_AS_SMOKE = object()  # by_mode's default for lecture: "the smoke value", so that lecture=None can mean None


@dataclass
class Trained:
    """What :meth:`Run.load_or_train` returns: the model, its history (a dict of lists) and facts about it."""
    model: object
    history: dict
    info: dict = field(default_factory=dict)
    loaded: bool = False

    def __iter__(self):  # model, history, info = run.load_or_train(...)
        return iter((self.model, self.history, self.info))


def _plain(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class Run:
    """The mode, seed and folders of one notebook run, made once from the notebook's parameters.

    ``build_dir`` receives the metrics file (default: ``build/`` in the course checkout, else in the working
    folder); ``artifacts_dir`` is the root of saved models and long results, one sub-folder per mode (default:
    ``<build_dir>/artifacts``), so lecture mode can reuse what a full run saved beside it.

    The device: ``precision`` is the Keras dtype policy every model built afterwards gets (None: ``"mixed_float16"``
    on a GPU, where it is about twice as fast, ``"float32"`` on a CPU, where float16 is only emulated; a name forces
    it, which is how the tests run the GPU path on a CPU). ``deterministic`` makes TensorFlow's ops repeatable (None:
    on a CPU, where it costs little; off on a GPU, where deterministic kernels are slower and some ops refuse to
    run). :attr:`strategy` is the ``tf.distribute`` strategy to build models under (``MirroredStrategy`` with two
    or more GPUs, else the default one).
    """

    def __init__(self, mode: str = "full", *, seed: int = config.DEFAULT_SEED, data_dir=None, build_dir=None,
                 artifacts_dir=None, precision: str | None = None, deterministic: bool | None = None,
                 verbose: bool = True):
        if mode not in config.MODES:
            raise ValueError(f"MODE must be one of {config.MODES}, got {mode!r}")
        if precision not in (None, *config.PRECISIONS):
            raise ValueError(f"PRECISION must be None or one of {config.PRECISIONS}, got {precision!r}")
        self.mode = mode
        self.seed = seed
        self.data_dir = data_dir
        default_build = (config.repo_root() or Path.cwd()) / "build"
        self.build_dir = Path(build_dir) if build_dir else default_build
        self.artifacts_root = Path(artifacts_dir) if artifacts_dir else default_build / "artifacts"
        self._work_dir: Path | None = None
        config.check_versions()
        gpus = config.gpu_count()
        self.precision = precision or config.default_precision()
        self.deterministic = (gpus == 0) if deterministic is None else deterministic
        config.set_seed(seed, deterministic=self.deterministic)
        config.set_precision(self.precision)
        self.strategy = config.distribution_strategy()
        if verbose:
            config.print_setup(mode, seed)
            if self.precision != "float32" or not self.deterministic:
                print(f"Precision: {self.precision} (outputs in float32) | deterministic ops: "
                      f"{'on' if self.deterministic else 'off'} | replicas: {self.strategy.num_replicas_in_sync}")

    def __repr__(self) -> str:
        return f"Run(mode={self.mode!r}, seed={self.seed}, precision={self.precision!r})"

    # --- sizes per mode -------------------------------------------------------------------------------
    def by_mode(self, *, full, smoke, lecture=_AS_SMOKE):
        """The value for this run's mode; lecture mode takes the smoke value unless given its own (None included)."""
        return {"full": full, "smoke": smoke, "lecture": smoke if lecture is _AS_SMOKE else lecture}[self.mode]

    # --- folders ----------------------------------------------------------------------------------------
    @property
    def artifacts_dir(self) -> Path:
        """Where this mode's models and long results are saved (created on first use)."""
        path = self.artifacts_root / self.mode
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def work_dir(self) -> Path:
        """A fresh temporary folder for this run's checkpoints and backups."""
        if self._work_dir is None:
            self._work_dir = Path(tempfile.mkdtemp(prefix="course-run-"))
        return self._work_dir

    def _reuse_candidates(self, filename: str) -> list[Path]:
        modes = ("full", "lecture") if self.mode == "lecture" else (self.mode,)
        return [self.artifacts_root / m / filename for m in modes]

    # --- models -----------------------------------------------------------------------------------------
    def find_model(self, name: str, dataset: str | None = None) -> Trained | None:
        """The model saved under ``name`` for this mode (lecture: a full run's first), or None.

        With ``dataset``, a model trained on another data set (say, the fallback) does not count.
        """
        import keras

        for path in self._reuse_candidates(f"{name}.keras"):
            if not path.exists():
                continue
            meta = path.with_suffix(".history.json")
            payload = json.loads(meta.read_text()) if meta.exists() else {"history": {}, "info": {}}
            if dataset is not None and payload["info"].get("dataset") not in (None, dataset):
                continue
            return Trained(keras.models.load_model(path), payload["history"], payload["info"], loaded=True)
        return None

    def save_model(self, name: str, model, history=None, info: dict | None = None) -> Path:
        """Save ``model`` as ``<artifacts>/<mode>/<name>.keras`` with its history and ``info``."""
        path = self.artifacts_dir / f"{name}.keras"
        model.save(path)
        hist = getattr(history, "history", history) or {}
        payload = {"history": {k: [float(v) for v in vals] for k, vals in hist.items()},
                   "info": _plain(dict(info or {}, mode=self.mode))}
        path.with_suffix(".history.json").write_text(json.dumps(payload, indent=1))
        return path

    def load_or_train(self, name: str, fit, *, dataset: str | None = None, reuse: bool | None = None) -> Trained:
        """Reuse the model saved as ``name``, or call ``fit()`` and save what it returns; say which it did.

        ``fit()`` returns a model, or ``(model, history)``. By default only lecture mode reuses a saved model
        (the one a full run saved, else its own); ``reuse=True`` reuses one in every mode (a later notebook
        picking up an earlier one's model). ``dataset`` names the data the model must have been trained on.
        """
        reuse = self.mode == "lecture" if reuse is None else reuse
        found = self.find_model(name, dataset) if reuse else None
        if found is not None:
            print(f"{name}: loaded the model a {found.info.get('mode', '?')} run saved (no training)")
            return found
        start = time.perf_counter()
        result = fit()
        seconds = time.perf_counter() - start
        model, history = result if isinstance(result, tuple) else (result, None)
        history = dict(getattr(history, "history", history) or {})
        info = {"train_seconds": round(seconds, 1), "dataset": dataset}
        self.save_model(name, model, history, info)
        print(f"{name}: trained in {seconds:.0f} s and saved for later notebooks")
        return Trained(model, history, dict(info, mode=self.mode), loaded=False)

    # --- long results that are not models (tables, searches) ---------------------------------------------
    def load_or_compute(self, name: str, compute, *, reuse: bool | None = None):
        """Like :meth:`load_or_train`, for a JSON-able result: ``compute()`` runs unless one can be reused."""
        reuse = self.mode == "lecture" if reuse is None else reuse
        if reuse:
            for path in self._reuse_candidates(f"{name}.json"):
                if path.exists():
                    try:
                        payload = json.loads(path.read_text())
                    except json.JSONDecodeError as exc:
                        raise ValueError(f"{path}: not valid JSON ({exc}); delete it and run again") from exc
                    print(f"{name}: loaded the result a {payload.get('mode', '?')} run saved (not recomputed)")
                    return payload["result"]
        result = _plain(compute())
        path = self.artifacts_dir / f"{name}.json"
        path.write_text(json.dumps({"mode": self.mode, "result": result}, indent=1, default=float))
        print(f"{name}: computed and saved for later runs")
        return result

    # --- the notebook's headline numbers -------------------------------------------------------------------
    def save_metrics(self, notebook: str, metrics: dict) -> None:
        """Write ``<build_dir>/<notebook>.metrics.json``, labelled with this run's mode; the runner reads it."""
        self.build_dir.mkdir(parents=True, exist_ok=True)
        path = self.build_dir / f"{notebook}.metrics.json"
        clean = _plain(dict(metrics))
        clean["mode"] = self.mode
        path.write_text(json.dumps(clean, indent=2, sort_keys=True) + "\n")
        print(f"metrics written to {path.name} ({len(clean)} values, mode {self.mode})")

    def metrics_of(self, notebook: str, dataset: str, path=None) -> tuple[dict | None, str]:
        """Another notebook's saved metrics for ``dataset``, and where they came from (08 compares with 05).

        Looks in ``path`` (default: ``<build_dir>/<notebook>.metrics.json``, what that notebook wrote in this build),
        then in the course's recorded full run (``results/metrics-full.json``), so a notebook run on its own still
        has the number. ``(None, why)`` when neither has a result with a ``test_accuracy`` for ``dataset``.
        """
        path = Path(path) if path else self.build_dir / f"{notebook}.metrics.json"
        looked = []
        if path.exists():
            metrics = _read_json(path)
            if metrics.get("dataset") == dataset and "test_accuracy" in metrics:
                return metrics, f"{path.name}, this build ({metrics.get('mode', '?')} mode)"
            looked.append(f"{path.name} is for {metrics.get('dataset', '?')}")
        else:
            looked.append(f"no {path.name} in this build")
        recorded = config.recorded_full_run() or {}
        metrics = recorded.get(notebook)
        if metrics and metrics.get("dataset") == dataset and "test_accuracy" in metrics:
            return metrics, f"results/metrics-full.json, the recorded full run of {notebook}"
        looked.append(f"no recorded full run of {notebook} for this data set")
        return None, "; ".join(looked)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
