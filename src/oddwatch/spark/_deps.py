"""Import pyspark on first use, with an install hint when it is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str) -> ModuleType:
    """Import ``module`` (a pyspark or pandas module) or explain how to install it.

    Examples
    --------
    >>> require("pyspark.sql").__name__
    'pyspark.sql'
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"oddwatch.spark needs {module.split('.')[0]}, which is not installed. "
            "Install it with: pip install 'oddwatch[spark]'"
        ) from None
