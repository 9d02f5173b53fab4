"""Every registered component passes the shared conformance suite (oddwatch.testing)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import oddwatch.detectors
import oddwatch.thresholds
from oddwatch.alarms import AlarmPolicy
from oddwatch.persist import registered_kinds
from oddwatch.testing import yield_checks

# every module of the two families, so a new detector is tested without touching this file
for _package in (oddwatch.detectors, oddwatch.thresholds):
    for _module in pkgutil.iter_modules(_package.__path__, f"{_package.__name__}."):
        importlib.import_module(_module.name)


def _factory(cls):
    params = cls._test_params() if hasattr(cls, "_test_params") else {}
    return lambda: cls(**{k: (v.clone() if hasattr(v, "clone") else v) for k, v in params.items()})


CASES = [
    pytest.param(_factory(cls), check_name, id=f"{name}:{check_name}")
    for name, cls in sorted(registered_kinds().items())
    if not issubclass(cls, AlarmPolicy)  # (score, threshold) -> flag: tests/test_alarms.py
    for check_name, _ in yield_checks(_factory(cls))
]


@pytest.mark.parametrize(("factory", "check_name"), CASES)
def test_conformance(factory, check_name):
    dict(yield_checks(factory))[check_name]()


def test_every_public_detector_and_threshold_is_registered():
    import oddwatch.detectors
    import oddwatch.thresholds

    public = set(oddwatch.detectors.__all__) | set(oddwatch.thresholds.__all__)
    public -= {"Detector", "Threshold"}
    assert public <= set(registered_kinds())
