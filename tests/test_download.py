import io

import pytest

from course_utils import download as dl


def test_verify_checksum_sha256_and_md5(tmp_path):
    f = tmp_path / "a.bin"
    f.write_bytes(b"hello")
    dl.verify_checksum(f, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
    dl.verify_checksum(f, "md5:5d41402abc4b2a76b9719d911017c592")
    with pytest.raises(dl.ChecksumError, match=r"a.bin: checksum mismatch"):
        dl.verify_checksum(f, "md5:" + "0" * 32)


def test_download_verifies_before_keeping(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout: io.BytesIO(b"not what was promised"))
    dest = tmp_path / "file.gz"
    with pytest.raises(dl.ChecksumError):
        dl.download("https://example.invalid/file.gz", dest, checksum="0" * 64)
    assert not dest.exists() and not list(tmp_path.iterdir()), "a bad download leaves nothing behind"


def test_download_success_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    calls = []
    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout: calls.append(url) or io.BytesIO(b"hello"))
    sha = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    dest = dl.download("https://example.invalid/h", tmp_path / "h", checksum=sha)
    assert dest.read_bytes() == b"hello"
    dl.download("https://example.invalid/h", tmp_path / "h", checksum=sha)
    assert len(calls) == 1, "a verified local copy is used instead of downloading again"


def test_offline_mode_refuses(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(dl.DownloadError, match="disabled"):
        dl.download("https://example.invalid/x", tmp_path / "x")
