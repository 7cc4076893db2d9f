"""One cached, checksum-verified, time-bounded download function (the d2l pattern).

Taught in notebook 02 ("Where the data comes from").
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path


class ChecksumError(ValueError):
    """A file's content does not match its published checksum."""


class DownloadError(OSError):
    """A download failed, timed out or is disabled."""


def default_timeout() -> float:
    """Seconds a download may take in all: ``COURSE_DOWNLOAD_TIMEOUT`` (default 120)."""
    return float(os.environ.get("COURSE_DOWNLOAD_TIMEOUT", "120"))


def downloads_allowed() -> bool:
    """False when ``COURSE_OFFLINE=1``: then no network is tried at all."""
    return os.environ.get("COURSE_OFFLINE", "0").lower() not in ("1", "true", "yes")


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_checksum(path: str | os.PathLike, expected: str) -> None:
    """Raise ChecksumError naming the file unless it hashes to ``expected``.

    ``expected`` is a hex digest, optionally prefixed with its algorithm (``"md5:..."``); sha256 otherwise.
    """
    algorithm, _, digest = expected.rpartition(":")
    algorithm = algorithm or "sha256"
    actual = file_digest(path, algorithm)
    if actual != digest.lower():
        raise ChecksumError(
            f"{path}: checksum mismatch ({algorithm} is {actual}, expected {digest}). "
            "The file is corrupt or not the published one: delete it and download it again."
        )


def download(url: str, dest: str | os.PathLike, checksum: str | None = None,
             timeout: float | None = None) -> Path:
    """Download ``url`` to ``dest`` unless a verified copy is already there; return the path.

    The whole transfer is bounded by ``timeout`` seconds (default :func:`default_timeout`). The file is
    written to a temporary name and moved into place only once complete and verified, so an interrupted
    or corrupt download never leaves a half file behind.
    """
    dest = Path(dest)
    if dest.exists():
        if checksum:
            verify_checksum(dest, checksum)
        return dest
    if not downloads_allowed():
        raise DownloadError(f"{url}: downloads are disabled (COURSE_OFFLINE=1)")
    timeout = default_timeout() if timeout is None else timeout
    dest.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=min(timeout, 30)) as response:
            while chunk := response.read(1 << 20):
                if time.monotonic() > deadline:
                    raise DownloadError(f"{url}: download took longer than {timeout:.0f} s")
                out.write(chunk)
        if checksum:
            verify_checksum(tmp_name, checksum)
        shutil.move(tmp_name, dest)
    except DownloadError:
        raise
    except ChecksumError:
        raise
    except Exception as exc:  # URLError, socket.timeout, HTTP errors...
        raise DownloadError(f"{url}: download failed ({exc})") from exc
    finally:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
    return dest
