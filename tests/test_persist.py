"""Checkpoint files: round trip, and every kind of bad file refused with a clear message."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import oddwatch
from oddwatch import FixedThreshold, Monitor, RollingZScore, SeasonalDetector
from oddwatch.errors import CheckpointError
from oddwatch.persist import FORMAT_VERSION, load_with_extra, meta_digest, read_meta, save


@pytest.fixture()
def trained(tmp_path):
    monitor = Monitor(
        detector=SeasonalDetector(max_season_length=32), threshold=FixedThreshold(0.7)
    )
    monitor.update_many(np.sin(np.arange(500) / 3.0) * 5 + 20)
    path = tmp_path / "model.oddwatch"
    monitor.save(path)
    return monitor, path


def _rewrite(path, meta=None, drop=None, extra_member=None):
    """Copy the zip at `path` with a changed meta.json and/or a member dropped or added."""
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    if meta is not None:
        meta = {**meta, "meta_sha256": meta_digest(meta)}  # re-signed: test the later checks
        members["meta.json"] = json.dumps(meta).encode()
    if drop is not None:
        del members[drop]
    if extra_member is not None:
        members[extra_member[0]] = extra_member[1]
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_round_trip_continues_bit_identically_and_keeps_params(trained):
    monitor, path = trained
    restored = oddwatch.load(path)
    assert isinstance(restored, Monitor)
    assert restored.get_params()["threshold"].value == 0.7
    xs = np.cos(np.arange(300) / 7.0) * 5 + 21
    a, b = monitor.update_many(xs), restored.update_many(xs)
    assert np.array_equal(a.score, b.score, equal_nan=True)
    assert np.array_equal(a.is_anomaly, b.is_anomaly)


def test_extra_metadata_round_trips(tmp_path):
    det = RollingZScore(window_size=4)
    det.update_many([1.0, 2.0, 3.0, 2.0, 4.0])
    save(det, tmp_path / "d", extra={"offset": 42, "file": "x.csv"})
    restored, extra = load_with_extra(tmp_path / "d")
    assert extra == {"offset": 42, "file": "x.csv"}
    assert restored.update(10.0) == det.update(10.0)


def test_the_file_is_a_zip_of_json_and_npy_without_pickles(trained):
    _, path = trained
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        meta = json.loads(zf.read("meta.json"))
    assert names[0] == "meta.json"
    assert all(n == "meta.json" or (n.startswith("state/") and n.endswith(".npy")) for n in names)
    assert meta["format"] == "oddwatch.checkpoint" and meta["version"] == FORMAT_VERSION
    assert meta["kind"] == "Monitor" and meta["library"] == oddwatch.__version__


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        oddwatch.load(tmp_path / "nope")


def test_truncated_file_is_refused(trained):
    _, path = trained
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    message = r"model\.oddwatch: not an oddwatch checkpoint \(corrupt"
    with pytest.raises(CheckpointError, match=message):
        oddwatch.load(path)


def test_foreign_zip_and_foreign_json_are_refused(tmp_path):
    path = tmp_path / "foreign.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(CheckpointError, match="no meta.json"):
        oddwatch.load(path)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("meta.json", json.dumps({"format": "something-else"}))
    with pytest.raises(CheckpointError, match="format is not 'oddwatch.checkpoint'"):
        oddwatch.load(path)
    text = tmp_path / "text.txt"
    text.write_text("not a zip")
    with pytest.raises(CheckpointError, match="text.txt: not an oddwatch checkpoint"):
        oddwatch.load(text)


def test_newer_version_names_both_versions(trained):
    _, path = trained
    meta, _ = read_meta(path)
    _rewrite(path, meta={**meta, "version": FORMAT_VERSION + 1, "library": "9.0.0"})
    message = r"version 4 \(written by oddwatch 9\.0\.0\).*reads version 3"
    with pytest.raises(CheckpointError, match=message):
        oddwatch.load(path)


def test_version_1_files_are_refused_naming_the_version(trained):
    _, path = trained
    meta, _ = read_meta(path)
    _rewrite(path, meta={**meta, "version": 1, "library": "0.1.0"})
    message = (
        r"format version 1 \(written by oddwatch 0\.1\.0\) stored state by position.*version 3"
    )
    with pytest.raises(CheckpointError, match=message):
        oddwatch.load(path)


def test_state_arrays_are_named_by_path(tmp_path):
    monitor = oddwatch.Monitor()
    monitor.update_many(np.sin(np.arange(200) / 5.0))
    path = tmp_path / "m.oddwatch"
    monitor.save(path)
    meta, arrays = read_meta(path)
    assert "detector.calibrated.seasonal.history" in arrays
    assert "detector.quiet" in arrays or "detector.calibrated.window" in arrays
    assert "detector.calibrated.seasonal.scalars.level" in arrays  # by name (version 3)
    assert "detector.calibrated.scalars.peak" in arrays
    assert meta["version"] == FORMAT_VERSION == 3


V2 = Path(__file__).parent / "data" / "checkpoint_v2"


@pytest.mark.parametrize("name", ["seasonal", "keyed_calibrated"])
def test_version_2_files_load_and_continue_as_the_version_that_wrote_them(name):
    # written by oddwatch at ea006bf (statistics as vectors), continued there and recorded
    recorded = json.loads((V2 / "continued.json").read_text())
    split, xs = recorded["split"], np.array(recorded["values"])
    assert read_meta(V2 / f"{name}.oddwatch")[0]["version"] == 2
    loaded = oddwatch.load(V2 / f"{name}.oddwatch")
    if name == "seasonal":
        scores = loaded.update_many(xs[split:])
    else:
        scores = loaded.update_many(np.array(recorded["keys"])[split:], xs[split:]).score
    expected = np.array(recorded["continued"][name])
    np.testing.assert_array_equal(scores, expected)
    assert np.isfinite(expected).sum() > 100


def test_a_version_2_vector_of_the_wrong_length_is_named(tmp_path):
    path = tmp_path / "v2.oddwatch"
    path.write_bytes((V2 / "seasonal.oddwatch").read_bytes())
    meta, _ = read_meta(path)
    short = np.zeros(5)
    buf = io.BytesIO()
    np.lib.format.write_array(buf, short, allow_pickle=False)
    digest = hashlib.sha256(short.tobytes()).hexdigest()
    meta["arrays"]["stats"] = {"dtype": "float64", "shape": [5], "sha256": digest}
    _rewrite(path, meta=meta, extra_member=("state/stats.npy", buf.getvalue()))
    with pytest.raises(
        CheckpointError, match=r"missing \['scalars.avg_mean', .*unexpected \['stats'\]"
    ):
        oddwatch.load(path)


def test_flipped_byte_fails_the_checksum(trained):
    _, path = trained
    with zipfile.ZipFile(path) as zf:
        name = next(n for n in zf.namelist() if n.startswith("state/detector.profile"))
        raw = bytearray(zf.read(name))
    raw[-1] ^= 0xFF
    _rewrite(path, drop=name, extra_member=(name, bytes(raw)))
    with pytest.raises(CheckpointError, match="fails its checksum"):
        oddwatch.load(path)


def test_edited_metadata_fails_its_checksum(trained):
    _, path = trained
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    meta = json.loads(members["meta.json"])
    meta["params"]["threshold"]["params"]["value"] = 0.1
    members["meta.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(CheckpointError, match="meta.json fails its checksum"):
        oddwatch.load(path)


def test_unknown_kind_is_refused_without_importing_anything(trained):
    _, path = trained
    meta, _ = read_meta(path)
    _rewrite(path, meta={**meta, "kind": "os.system"})
    with pytest.raises(CheckpointError, match="unknown component kind 'os.system'; known kinds:"):
        oddwatch.load(path)


def test_missing_state_array_is_named(trained):
    _, path = trained
    meta, _ = read_meta(path)
    del meta["arrays"]["detector.profile"]
    _rewrite(path, meta=meta, drop="state/detector.profile.npy")
    with pytest.raises(CheckpointError, match=r"missing \['detector.profile'\]"):
        oddwatch.load(path)


def test_wrong_shape_is_named(trained):
    _, path = trained
    other = Monitor(detector=SeasonalDetector(max_season_length=64))
    state = other.get_state()
    message = r"`detector.history` of Monitor must have shape \(64,\)"
    with pytest.raises(CheckpointError, match=message):
        oddwatch.load(path).set_state(state)


def test_pickled_array_is_refused(trained):
    _, path = trained
    import io
    import pickle

    buf = io.BytesIO()
    np.save(buf, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    meta, _ = read_meta(path)
    name = "state/monitor.counters.npy"
    _rewrite(path, drop=name, extra_member=(name, buf.getvalue()))
    with pytest.raises(CheckpointError, match="`monitor.counters` is unreadable"):
        oddwatch.load(path)
    assert pickle  # the module was only needed to build the hostile payload


def test_save_is_atomic_and_leaves_no_temporary_file(trained):
    monitor, path = trained
    monitor.save(path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.oddwatch"]
