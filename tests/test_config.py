"""Where numba caches the kernels: one directory per version of the package's sources."""

from __future__ import annotations

import os

import numba
import pytest

from oddwatch import config


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_stamp_changes_with_any_source_file_and_ignores_pycache(tmp_path):
    write(tmp_path / "a.py", "x = 1\n")
    write(tmp_path / "sub" / "b.py", "y = 2\n")
    before = config._source_stamp(tmp_path)
    write(tmp_path / "__pycache__" / "c.py", "stale\n")
    write(tmp_path / "notes.txt", "not a source\n")
    assert config._source_stamp(tmp_path) == before
    write(tmp_path / "sub" / "b.py", "y = 3\n")  # same size, new content
    assert config._source_stamp(tmp_path) != before
    write(tmp_path / "sub" / "b.py", "y = 2\n")
    assert config._source_stamp(tmp_path) == before
    (tmp_path / "sub" / "b.py").rename(tmp_path / "sub" / "d.py")
    assert config._source_stamp(tmp_path) != before


def test_cache_dir_follows_the_source_stamp(tmp_path, monkeypatch):
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    monkeypatch.setattr(config, "_user_cache_dir", lambda: tmp_path)
    monkeypatch.setattr(config, "_source_stamp", lambda root: "aaaa")
    config._configure_numba_cache()
    first = numba.config.CACHE_DIR
    assert first == str(tmp_path / "numba-aaaa") and os.path.isdir(first)
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    monkeypatch.setattr(config, "_source_stamp", lambda root: "bbbb")
    config._configure_numba_cache()
    assert numba.config.CACHE_DIR == str(tmp_path / "numba-bbbb")


def test_a_directory_chosen_by_the_user_is_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "mine"))
    monkeypatch.setattr(config, "_user_cache_dir", lambda: tmp_path / "ours")
    config._configure_numba_cache()
    assert numba.config.CACHE_DIR == str(tmp_path / "mine")
    assert not (tmp_path / "ours").exists()


def test_only_the_most_recently_used_directories_are_kept(tmp_path):
    for i, stamp in enumerate(["a", "b", "c", "d"]):
        path = config._kernel_cache_dir(tmp_path, stamp)
        (path / "kernel.nbi").write_text("x")
        os.utime(path, (1000 + i, 1000 + i))
    config._kernel_cache_dir(tmp_path, "b")  # used again: now the most recent
    config._kernel_cache_dir(tmp_path, "e")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["numba-b", "numba-d", "numba-e"]


@pytest.mark.skipif(os.name == "nt", reason="a path below a file is an error on POSIX")
def test_an_unusable_directory_leaves_numba_alone(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    assert config._kernel_cache_dir(tmp_path / "file" / "below", "aaaa") is None
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    monkeypatch.setattr(config, "_user_cache_dir", lambda: tmp_path / "file" / "below")
    config._configure_numba_cache()  # no exception, no warning (warnings are errors)
    assert numba.config.CACHE_DIR == ""


def test_kernels_are_cached_in_the_directory_of_this_version():
    if os.environ.get("NUMBA_CACHE_DIR"):
        pytest.skip("NUMBA_CACHE_DIR is set: the user's directory is used")
    stamp = config._source_stamp(config._PACKAGE)
    expected = config._kernel_cache_dir(config._user_cache_dir(), stamp)
    if expected is None:
        pytest.skip("no writable user cache directory: numba's default is used")
    from oddwatch.detectors import _seasonal_kernels

    cache_path = getattr(getattr(_seasonal_kernels.step, "_cache", None), "_cache_path", None)
    if cache_path is None:
        pytest.skip("this numba version keeps the cache path elsewhere")
    assert cache_path.startswith(str(expected) + os.sep)
