"""Corrupt, crafted and hostile checkpoint files: every one is a CheckpointError, fast.

Byte flips hit saved files of three components: up to 1,000 of the bytes that zip and .npy
parsers read (local and central headers, the end record, .npy headers) xor 0xFF, plus 600
seeded random (position, mask) pairs anywhere; 4,800 flips in all, each loaded. Every flip
must give a ``CheckpointError`` (zip headers are checked field by field, data by CRC and
SHA-256); anything else fails. Crafted files re-sign their metadata so the checks after the
checksum are reached.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import oddwatch
from oddwatch import HalfSpaceTrees, KeyedMonitor, Monitor, RollingZScore
from oddwatch.errors import CheckpointError
from oddwatch.persist import load, meta_digest, read_meta, save

SRC = str(Path(oddwatch.__file__).resolve().parents[1])
N_STRUCTURAL_FLIPS = 1000
N_RANDOM_FLIPS = 600


def trained_components():
    rng = np.random.default_rng(3)
    xs = np.sin(np.arange(300) / 5) + rng.normal(0, 0.1, 300)
    monitor = Monitor()
    monitor.update_many(xs)
    hst = HalfSpaceTrees(**HalfSpaceTrees._test_params())
    hst.update_many(xs)
    keyed = KeyedMonitor(**KeyedMonitor._test_params())
    keyed.update_many(np.array(["a", "b", "c"] * 100), xs)
    return {"Monitor": monitor, "HalfSpaceTrees": hst, "KeyedMonitor": keyed}


def same_state(a, b):
    sa, sb = a.get_state(), b.get_state()
    return sa.keys() == sb.keys() and all(np.array_equal(sa[k], sb[k]) for k in sa)


def structural_bytes(path):
    """Offsets of the bytes a zip or .npy parser interprets (not array data, not JSON text)."""
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        central = zf.start_dir
    size = path.stat().st_size
    positions = set(range(central, size))  # central directory and end record
    for info in infos:
        header = 30 + len(info.filename.encode()) + len(info.extra)
        npy = 128 if info.filename.endswith(".npy") else 0  # oddwatch's .npy header length
        positions.update(range(info.header_offset, info.header_offset + header + npy))
    return sorted(positions)


def flips(path, rng):
    """(position, xor mask) pairs: structural bytes, then random ones anywhere."""
    positions = structural_bytes(path)
    if len(positions) > N_STRUCTURAL_FLIPS:
        positions = sorted(rng.choice(positions, N_STRUCTURAL_FLIPS, replace=False).tolist())
    pairs = [(p, 0xFF) for p in positions]
    size = path.stat().st_size
    pairs += [(int(rng.integers(size)), int(rng.integers(1, 256))) for _ in range(N_RANDOM_FLIPS)]
    return pairs


@pytest.mark.parametrize("name", ["Monitor", "HalfSpaceTrees", "KeyedMonitor"])
def test_every_single_byte_flip_is_refused(tmp_path, name):
    component = trained_components()[name]
    path = tmp_path / "model.oddwatch"
    save(component, path)
    original = path.read_bytes()
    assert same_state(load(path), component)
    pairs = flips(path, np.random.default_rng(12))
    assert len(pairs) == N_STRUCTURAL_FLIPS + N_RANDOM_FLIPS
    loaded = []
    for position, mask in pairs:
        data = bytearray(original)
        data[position] ^= mask
        path.write_bytes(data)
        try:
            load(path)
        except CheckpointError:
            continue
        loaded.append((position, mask))
    assert loaded == []


def write_zip(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def members_of(path):
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def resign(meta):
    return json.dumps({**meta, "meta_sha256": meta_digest(meta)}).encode()


@pytest.fixture()
def saved(tmp_path):
    det = RollingZScore(window_size=8)
    det.update_many(np.arange(20.0))
    path = tmp_path / "det.oddwatch"
    save(det, path)
    return path


def refused(path, match):
    with pytest.raises(CheckpointError, match=match):
        load(path)


def test_an_array_declared_with_1e12_elements_is_refused_before_allocating(saved):
    members = members_of(saved)
    meta, _ = read_meta(saved)
    meta["arrays"]["window"]["shape"] = [10**12]
    members["meta.json"] = resign(meta)
    write_zip(saved, members)
    refused(saved, r"stored as float64 \(8,\) but declared as float64 \(1000000000000,\)")
    # the .npy header itself says 1e12 elements (and so does meta.json): sizes disagree
    header = np.lib.format.header_data_from_array_1_0(np.zeros(8))
    header["shape"] = (10**12,)
    buf = bytearray(b"\x93NUMPY\x01\x00")
    text = repr(header).encode().ljust(118) + b"\n"
    buf += len(text).to_bytes(2, "little") + text + np.zeros(8).tobytes()
    members["state/window.npy"] = bytes(buf)
    write_zip(saved, members)
    refused(saved, "declares 8000000000000 bytes of data but its entry holds 64")


def test_a_zip_bomb_in_meta_json_is_refused_without_expanding_it(saved, tmp_path):
    bomb = tmp_path / "bomb.oddwatch"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("meta.json", "w", force_zip64=True) as fh:
            block = b" " * (1 << 20)
            for _ in range(64):  # 64 MiB that compress to ~64 KiB
                fh.write(block)
    assert bomb.stat().st_size < 1 << 20
    refused(bomb, "'meta.json' is compressed; oddwatch stores entries uncompressed")
    write_zip(bomb, {"meta.json": b" " * (17 << 20)})  # stored, but too big to be metadata
    refused(bomb, "meta.json declares 17825792 bytes; a checkpoint's metadata is at most")


def test_a_zip_with_too_many_entries_is_refused(tmp_path):
    path = tmp_path / "many.oddwatch"
    write_zip(path, {f"state/a{i}.npy": b"" for i in range(1100)})
    refused(path, "the zip has 1100 entries; a checkpoint has at most 1025")


def test_deep_json_is_refused(saved):
    members = members_of(saved)
    meta = json.loads(members["meta.json"])
    members["meta.json"] = b"[" * 200_000 + b"]" * 200_000
    write_zip(saved, members)
    refused(saved, "meta.json nests deeper than 32 levels")
    deep: list = [1]
    for _ in range(40):  # shallow enough for json, too deep for a checkpoint
        deep = [deep]
    meta["params"]["window_size"] = deep
    members["meta.json"] = resign(meta)
    write_zip(saved, members)
    refused(saved, "meta.json nests deeper than 32 levels")


WRONG_TYPES = [
    ("arrays is a list", lambda m: m.update(arrays=[1, 2]), "no `arrays` table"),
    ("array entry is a string", lambda m: m["arrays"].update(window="x"), "is not an object"),
    ("shape of strings", lambda m: m["arrays"]["window"].update(shape=["8"]), "list of at most"),
    ("negative shape", lambda m: m["arrays"]["window"].update(shape=[-8]), "list of at most"),
    ("bool shape", lambda m: m["arrays"]["window"].update(shape=[True]), "list of at most"),
    ("dtype object", lambda m: m["arrays"]["window"].update(dtype="O"), "unsupported dtype"),
    ("dtype garbage", lambda m: m["arrays"]["window"].update(dtype="zz9"), "unsupported dtype"),
    ("dtype a number", lambda m: m["arrays"]["window"].update(dtype=8), "expected a dtype name"),
    ("sha256 a number", lambda m: m["arrays"]["window"].update(sha256=1), "expected a dtype"),
    ("params a list", lambda m: m.update(params=[8]), "component description is malformed"),
    ("param a string", lambda m: m["params"].update(window_size="8"), "cannot rebuild"),
    ("param a dict", lambda m: m["params"].update(window_size={"a": 1}), "cannot rebuild"),
    ("param a list", lambda m: m["params"].update(window_size=[8]), "cannot rebuild"),
    ("param huge", lambda m: m["params"].update(window_size=10**400), "cannot rebuild"),
    ("kind a dict", lambda m: m.update(kind={"a": 1}), "unknown component kind|cannot rebuild"),
    ("kind a list", lambda m: m.update(kind=[1]), "unknown component kind|cannot rebuild"),
    ("nested kind", lambda m: m["params"].update(window_size={"kind": [], "params": {}}), "."),
    ("version a str", lambda m: m.update(version="1"), "format version '1'"),
    ("unknown param", lambda m: m["params"].update(evil=1), "cannot rebuild RollingZScore"),
]


@pytest.mark.parametrize("label, edit, match", WRONG_TYPES, ids=[w[0] for w in WRONG_TYPES])
def test_wrong_json_types_are_refused(saved, label, edit, match):
    members = members_of(saved)
    meta = json.loads(members["meta.json"])
    edit(meta)
    members["meta.json"] = resign(meta)
    write_zip(saved, members)
    refused(saved, match)


def load_in_subprocess(path):
    """Load in a child process with a deadline, so a hang fails instead of stalling CI."""
    code = (
        "import sys\nfrom oddwatch.errors import CheckpointError\n"
        "from oddwatch.persist import load\ntry:\n    load(sys.argv[1])\n"
        "except CheckpointError as exc:\n    print(exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.mark.parametrize("kind", ["fifo", "devzero", "directory"])
def test_non_regular_files_are_refused_without_hanging(tmp_path, kind):
    path = tmp_path / "model.oddwatch"
    if kind == "fifo":
        os.mkfifo(path)
        expected = "is a FIFO, not a regular file"
    elif kind == "devzero":
        path.symlink_to("/dev/zero")
        expected = "is a character device, not a regular file"
    else:
        path.mkdir()
        expected = "is a directory, not a regular file"
    result = load_in_subprocess(path)
    assert result.returncode == 0 and expected in result.stdout, result.stderr[-2000:]


def test_a_symlink_to_a_regular_checkpoint_still_loads(saved, tmp_path):
    link = tmp_path / "link.oddwatch"
    link.symlink_to(saved)
    assert isinstance(load(link), RollingZScore)


def test_cli_maps_a_fifo_checkpoint_to_exit_2(tmp_path, capsys):
    from oddwatch.cli.main import main

    data = tmp_path / "in.csv"
    data.write_text("value\n" + "\n".join(str(float(i % 7)) for i in range(50)) + "\n")
    model = tmp_path / "model.oddwatch"
    os.mkfifo(model)
    code = main(["detect", str(data), "--model", str(model), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "is a FIFO, not a regular file" in err and "Traceback" not in err
