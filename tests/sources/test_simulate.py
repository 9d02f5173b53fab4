"""Tests of the simulated stream: generation, labels, validation, pacing, writers and CLI."""

from __future__ import annotations

import argparse
import csv
import importlib
import io
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oddwatch.cli.commands import simulate as command
from oddwatch.errors import InvalidParameterError
from oddwatch.sources import (
    ANOMALY_KINDS,
    Simulation,
    SimulationConfig,
    iter_points,
    simulate,
    write_csv,
    write_jsonl,
)

replay_module = importlib.import_module("oddwatch.sources._replay")
LENGTHS = {
    "spike": (1, 1),
    "dip": (1, 1),
    "level_shift": (20, 60),
    "variance_burst": (20, 50),
    "stuck": (15, 40),
    "pattern_change": (72, 144),
    "missing": (1, 5),
}
QUIET = dict(level_shift_rate=0.0, drift_scale=0.0, trend_per_point=0.0)


def same(a: Simulation, b: Simulation) -> bool:
    return (
        np.array_equal(a.values, b.values, equal_nan=True)
        and np.array_equal(a.labels, b.labels)
        and np.array_equal(a.kinds, b.kinds)
        and np.array_equal(a.timestamps, b.timestamps)
    )


def check_invariants(sim: Simulation) -> None:
    assert np.array_equal(sim.labels, sim.kinds != "")
    assert np.array_equal(np.isnan(sim.values), sim.kinds == "missing")
    events = sim.events()
    for event in events:
        assert event.start >= sim.config.warmup
        assert set(sim.kinds[event.start : event.end + 1]) == {event.kind}
        lo, hi = LENGTHS[event.kind]
        length = event.end - event.start + 1
        assert length <= hi and (length >= lo or event.end == len(sim) - 1)
    for before, after in zip(events[:-1], events[1:], strict=True):
        assert after.start - before.end > 50


# -- generation --------------------------------------------------------------------------------


def test_defaults_and_shapes() -> None:
    sim = simulate()
    assert len(sim) == 5000 == sim.config.n_points
    assert sim.timestamps.dtype == np.dtype("datetime64[s]")
    assert sim.values.dtype == np.float64 and sim.labels.dtype == bool
    assert sim.timestamps[1] - sim.timestamps[0] == np.timedelta64(60, "s")
    assert 10 <= len(sim.events()) <= 40
    check_invariants(sim)


def test_same_seed_is_identical_and_different_seed_differs() -> None:
    assert same(simulate(seed=3), simulate(SimulationConfig(seed=3)))
    assert not np.array_equal(simulate(seed=3).values, simulate(seed=4).values, equal_nan=True)


def test_shorter_run_is_prefix_of_longer() -> None:
    long, short = simulate(n_points=20_000, seed=9), simulate(n_points=7_777, seed=9)
    assert np.array_equal(long.values[:7_777], short.values, equal_nan=True)
    assert np.array_equal(long.kinds[:7_777], short.kinds)


def test_anomalies_change_only_labelled_points() -> None:
    clean = simulate(seed=5, outlier_prob=0, level_shift_rate=0)
    dirty = simulate(seed=5, outlier_prob=0.02, level_shift_rate=0)
    changed = ~np.isclose(dirty.values, clean.values, rtol=0, atol=1e-9)
    assert dirty.labels.sum() > 100
    assert not (changed & ~dirty.labels).any()


def test_arrays_are_read_only() -> None:
    sim = simulate(n_points=10)
    with pytest.raises(ValueError, match="read-only"):
        sim.values[0] = 1.0


@pytest.mark.parametrize("kind", ANOMALY_KINDS)
def test_each_kind_appears_with_its_length(kind: str) -> None:
    sim = simulate(n_points=20_000, outlier_prob=0.05, anomaly_kinds=(kind,))
    events = sim.events()
    assert len(events) >= 20 and {e.kind for e in events} == {kind}
    check_invariants(sim)


def test_all_kinds_appear_at_a_high_rate() -> None:
    sim = simulate(n_points=20_000, outlier_prob=0.5)
    assert {e.kind for e in sim.events()} == set(ANOMALY_KINDS)
    check_invariants(sim)


@pytest.mark.parametrize("overrides", [{"outlier_prob": 0}, {"anomaly_kinds": ()}])
def test_no_anomalies(overrides: dict[str, object]) -> None:
    sim = simulate(n_points=20_000, **overrides)
    assert not sim.labels.any() and sim.events() == [] and not np.isnan(sim.values).any()


def test_seasonality_shows_in_autocorrelation() -> None:
    x = simulate(n_points=10_000, outlier_prob=0, **QUIET).values
    x = x - x.mean()

    def acf(lag: int) -> float:
        return float(np.dot(x[:-lag], x[lag:]) / np.dot(x, x))

    assert acf(144) > 0.8 and acf(72) < -0.8


def test_anomalies_are_visible() -> None:
    kinds = ("spike", "dip", "level_shift", "variance_burst", "stuck", "pattern_change")
    n = 50_000
    signal = simulate(n_points=n, seed=2, outlier_prob=0, noise_scale=1e-12, **QUIET).values
    clean = simulate(n_points=n, seed=2, outlier_prob=0, **QUIET).values
    sim = simulate(n_points=n, seed=2, outlier_prob=0.02, anomaly_kinds=kinds, **QUIET)
    injected = sim.values - clean
    floor = 8 * 0.8 * 0.8  # magnitude x smallest size factor x smallest noise scale
    seen = set()
    for e in sim.events():
        seen.add(e.kind)
        part = slice(e.start, e.end + 1)
        if e.kind == "spike":
            assert injected[e.start] >= floor
            neighbours = np.r_[sim.values[e.start - 3 : e.start], sim.values[e.end + 1 : e.end + 4]]
            assert sim.values[e.start] > np.max(neighbours)
        elif e.kind == "dip":
            assert injected[e.start] <= -floor
        elif e.kind == "level_shift":
            assert np.ptp(injected[part]) < 1e-9 and abs(injected[e.start]) >= floor
        elif e.kind == "variance_burst":
            factor = (sim.values[part] - signal[part]) / (clean[part] - signal[part])
            assert np.ptp(factor) < 1e-6 and 4 <= factor[0] <= 6
        elif e.kind == "stuck":
            assert np.all(sim.values[part] == sim.values[e.start - 1])
        else:
            assert np.max(np.abs(injected[part])) > 5
    assert seen == set(kinds)


def test_missing_points_are_nan_and_labelled() -> None:
    sim = simulate(n_points=20_000, outlier_prob=0.05, anomaly_kinds=("missing",))
    assert np.isnan(sim.values).sum() == sim.labels.sum() > 0


def test_normal_level_shifts_are_unlabelled_and_permanent() -> None:
    flat = simulate(n_points=20_000, outlier_prob=0, level_shift_rate=0)
    shifted = simulate(n_points=20_000, outlier_prob=0, level_shift_rate=0.002)
    steps = np.diff(shifted.values - flat.values)
    jumps = np.abs(steps[np.abs(steps) > 1e-9])
    assert not shifted.labels.any()
    assert len(jumps) >= 10 and jumps.min() >= 4 - 1e-9 and jumps.max() <= 12 + 1e-9


def test_start_and_step_set_timestamps() -> None:
    sim = simulate(n_points=2, start="2026-03-01T12:00:00+02:00", step_seconds=5)
    assert sim.timestamps.astype(str).tolist() == ["2026-03-01T10:00:00", "2026-03-01T10:00:05"]


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32),
    n=st.integers(1, 3000),
    p=st.floats(0, 1),
    kinds=st.lists(st.sampled_from(ANOMALY_KINDS), unique=True),
)
def test_invariants_hold_for_any_settings(seed: int, n: int, p: float, kinds: list[str]) -> None:
    sim = simulate(n_points=n, seed=seed, outlier_prob=p, anomaly_kinds=kinds)
    assert len(sim) == n
    check_invariants(sim)


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"n_points": 0}, "`n_points` of SimulationConfig must be an int >= 1; got 0."),
        ({"seed": -1}, "`seed` of SimulationConfig must be an int >= 0; got -1."),
        ({"n_points": 2.5}, "`n_points` of SimulationConfig must be an int >= 1; got 2.5."),
        ({"outlier_prob": 1.5}, "`outlier_prob` of SimulationConfig must be a number in [0, 1]"),
        ({"noise_scale": 0}, "`noise_scale` of SimulationConfig must be a number in (0, inf]"),
        ({"delay": math.nan}, "`delay` of SimulationConfig must be a number in [0, inf]"),
        ({"noise_scale_variation": 1}, "must be a number in [0, 1); got 1."),
        ({"start": "yesterday"}, "`start` of SimulationConfig must be an ISO 8601 datetime"),
        ({"seasonal_periods": (1,)}, "`seasonal_periods` of SimulationConfig must be a sequence"),
        ({"seasonal_amplitudes": (1, 2)}, "must have the same length; got 1 and 2."),
        ({"anomaly_kinds": "spike"}, "`anomaly_kinds` of SimulationConfig must be a sequence"),
        ({"anomaly_kinds": ("spike", "blip")}, "names from spike, dip, level_shift"),
        ({"anomaly_kinds": ("dip", "dip")}, "Name each kind once."),
        ({"seasonal_periods": (), "seasonal_amplitudes": ()}, "Add a season or drop"),
        ({"points": 10}, "unknown simulation setting 'points'; allowed keys: anomaly_kinds,"),
    ],
)
def test_bad_settings_are_rejected(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        simulate(**overrides)
    assert message in str(info.value)


def test_from_mapping_converts_toml_values() -> None:
    import datetime as dt

    config = SimulationConfig.from_mapping(
        {
            "seasonal_periods": [24, 168],
            "seasonal_amplitudes": [3, 1],
            "start": dt.datetime(2026, 5, 1),
            "anomaly_kinds": ["spike"],
        }
    )
    assert config.seasonal_periods == (24, 168) and config.seasonal_amplitudes == (3.0, 1.0)
    assert config.start == "2026-05-01T00:00:00" and config.anomaly_kinds == ("spike",)
    assert config.dominant_season == (24, 3.0) and config.warmup == 252


# -- pacing --------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(replay_module.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(replay_module.time, "sleep", fake.sleep)
    return fake


def test_iter_points_follows_a_schedule_without_drift(clock: FakeClock) -> None:
    sim = simulate(n_points=5)
    released, points = [], []
    for work, point in zip([0.0, 0.7, 0.0, 0.2, 0.0], iter_points(sim, delay=0.5), strict=True):
        released.append(round(clock.now - 100.0, 9))
        points.append(point)
        clock.now += work
    assert released == [0.0, 0.5, 1.2, 1.5, 2.0]
    assert points[-1].timestamp.isoformat() == "2026-01-01T00:04:00"


def test_iter_points_uses_config_delay_and_validates_eagerly(clock: FakeClock) -> None:
    points = list(iter_points(simulate(n_points=3, delay=0.25)))
    assert (
        clock.sleeps == [0.25, 0.25]
        and [p.value for p in points] == simulate(n_points=3).values.tolist()
    )
    assert list(iter_points(simulate(n_points=3, delay=0.25), delay=0)) == points
    with pytest.raises(InvalidParameterError, match="`delay` of iter_points must be a number"):
        iter_points(simulate(n_points=3), delay=-1)


def test_paced_writer_flushes_every_line_and_matches_unpaced(clock: FakeClock) -> None:
    class Recorder(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            self.flushes += 1

    sim = simulate(n_points=4)
    paced, plain = Recorder(), io.StringIO()
    write_csv(sim, paced, delay=1.0)
    write_csv(sim, plain)
    assert paced.getvalue() == plain.getvalue() and paced.flushes == 4
    assert clock.sleeps == [1.0, 1.0, 1.0]


# -- writers -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def anomalous() -> Simulation:
    return simulate(n_points=3000, seed=1, outlier_prob=0.05)


def test_csv_round_trips(anomalous: Simulation) -> None:
    out = io.StringIO()
    write_csv(anomalous, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == ["timestamp", "value", "label", "kind"]
    values = [float(r["value"]) if r["value"] else math.nan for r in rows]
    assert np.array_equal(values, anomalous.values, equal_nan=True)
    assert [r["label"] == "1" for r in rows] == anomalous.labels.tolist()
    assert [r["kind"] for r in rows] == anomalous.kinds.tolist()
    assert np.array_equal(
        np.array([r["timestamp"] for r in rows], "datetime64[s]"), anomalous.timestamps
    )
    assert "missing" in {r["kind"] for r in rows if r["value"] == ""}


def test_jsonl_round_trips(anomalous: Simulation) -> None:
    out = io.StringIO()
    write_jsonl(anomalous, out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    values = [math.nan if r["value"] is None else r["value"] for r in rows]
    assert np.array_equal(values, anomalous.values, equal_nan=True)
    assert [r["label"] for r in rows] == anomalous.labels.astype(int).tolist()
    assert [r["kind"] for r in rows] == anomalous.kinds.tolist()
    assert rows[0]["timestamp"] == "2026-01-01T00:00:00"


# -- command line --------------------------------------------------------------------------------


def run_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return command.run(parser.parse_args(argv))


def test_command_writes_csv_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(["--points", "5", "--seed", "2"]) == 0
    out = io.StringIO()
    write_csv(simulate(n_points=5, seed=2), out)
    assert capsys.readouterr().out == out.getvalue()


def test_command_format_from_extension_and_config_file(tmp_path, capsys) -> None:
    config = tmp_path / "sim.toml"
    config.write_text("n_points = 50\nseed = 4\nseasonal_periods = [24]\noutlier_prob = 0.2\n")
    target = tmp_path / "s.jsonl"
    assert run_command(["--config", str(config), "--seed", "6", "--out", str(target)]) == 0
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    expected = simulate(n_points=50, seed=6, seasonal_periods=(24,), outlier_prob=0.2)
    assert len(rows) == 50 and [r["label"] for r in rows] == expected.labels.astype(int).tolist()
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--points", "0"], "`n_points` of SimulationConfig must be an int >= 1"),
        (["--outlier-prob", "2"], "`outlier_prob` of SimulationConfig must be a number in [0, 1]"),
        (["--config", "/nonexistent/sim.toml"], "cannot read config file '/nonexistent/sim.toml'"),
        (["--out", "/nonexistent/dir/s.csv"], "cannot write to '/nonexistent/dir/s.csv'"),
    ],
)
def test_command_rejects_bad_values(argv: list[str], message: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        run_command(["--points", "5", *argv])
    assert message in str(info.value)


def test_command_rejects_bad_config_file(tmp_path) -> None:
    bad_key, bad_toml = tmp_path / "a.toml", tmp_path / "b.toml"
    bad_key.write_text("point = 3\n")
    bad_toml.write_text("n_points = \n")
    with pytest.raises(InvalidParameterError, match="in config file '.*a.toml': unknown simulati"):
        run_command(["--config", str(bad_key)])
    with pytest.raises(InvalidParameterError, match="is not valid TOML"):
        run_command(["--config", str(bad_toml)])


def test_command_survives_a_closed_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError

    monkeypatch.setattr("sys.stdout", ClosedPipe())
    assert run_command(["--points", "100"]) == 0


def test_main_runs_simulate(capsys: pytest.CaptureFixture[str]) -> None:
    from oddwatch.cli.main import main

    assert main(["simulate", "--points", "3", "--format", "jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and json.loads(lines[0])["kind"] == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--points", "-5"], "error: `n_points` of SimulationConfig must be an int >= 1"),
        (["--points", "many"], "error: argument --points: invalid int value: 'many'"),
        (["--format", "xml"], "error: argument --format: invalid choice: 'xml'"),
    ],
)
def test_main_bad_flag_exits_2(argv: list[str], message: str, capsys) -> None:
    from oddwatch.cli.main import main

    assert main(["simulate", *argv]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""
