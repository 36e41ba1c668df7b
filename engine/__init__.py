"""convapi's dialogue engine: pure Python, no Django imports."""

from __future__ import annotations

__version__ = "0.2.0"
# The oldest model archive format this engine can load.
MINIMUM_COMPATIBLE_VERSION = "0.2.0"
