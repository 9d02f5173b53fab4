"""Every registered component passes the shared conformance suite (oddwatch.testing)."""

from __future__ import annotations

import pytest

from oddwatch.persist import registered_kinds
from oddwatch.testing import yield_checks


def _factory(cls):
    params = cls._test_params() if hasattr(cls, "_test_params") else {}
    return lambda: cls(**{k: (v.clone() if hasattr(v, "clone") else v) for k, v in params.items()})


CASES = [
    pytest.param(_factory(cls), check_name, id=f"{name}:{check_name}")
    for name, cls in sorted(registered_kinds().items())
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
