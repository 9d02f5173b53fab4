"""River's modules used here, or an ImportError that says which extra to install."""

from __future__ import annotations

try:
    import river
    from river import anomaly, base, preprocessing
except ImportError:  # pragma: no cover - exercised by tests/integrations/test_river.py
    raise ImportError(
        "oddwatch.river needs River, which is not installed. "
        "Install it with: pip install 'oddwatch[river]'"
    ) from None

RIVER_VERSION: str = river.__version__  # type: ignore[attr-defined]

__all__ = ["RIVER_VERSION", "anomaly", "base", "preprocessing"]
