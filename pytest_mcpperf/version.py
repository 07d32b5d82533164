"""The installed version, importable from any layer without loading the package's API."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pytest-mcpperf")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
