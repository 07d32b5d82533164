"""`LoadResult`: a finished run, readable as attributes that mirror the report keys.

The report dictionary (schema "mcpperf/1", see DESIGN.md) is the single source of
truth; `LoadResult` only gives it a friendly face: `result.latency_ms.p99`,
`result.throughput_rps`, `result.error_rate`, `result.to_dict()`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

SCHEMA = "mcpperf/1"


class Section(Mapping[str, Any]):
    """Read-only attribute view over one nested object of the report."""

    __slots__ = ("_data", "_path")

    def __init__(self, data: Mapping[str, Any], path: str = "") -> None:
        self._data = data
        self._path = path

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in Section.__slots__:
            # copy/pickle probes, and a half-built object: never look these up as keys
            raise AttributeError(name)
        try:
            return _wrap(self._data[name], f"{self._path}{name}.")
        except KeyError:
            where = self._path.rstrip(".") or "the report"
            raise AttributeError(f"{where} has no key {name!r}") from None

    def __getitem__(self, key: str) -> Any:
        return _wrap(self._data[key], f"{self._path}{key}.")

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Section({dict(self._data)!r})"


def _wrap(value: Any, path: str) -> Any:
    if isinstance(value, Mapping):
        return Section(value, path)
    return value


def _plain(value: Any) -> Any:
    """Plain dicts all the way down (a report may hold Sections of another result)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class LoadResult(Section):
    """The outcome of one load run (the report object of DESIGN.md)."""

    def __init__(self, report: Mapping[str, Any]) -> None:
        super().__init__(report._data if isinstance(report, Section) else report)

    @property
    def error_rate(self) -> float:
        """Failed requests as a fraction (0.0-1.0) of the requests that finished."""
        req = self._data.get("requests", {})
        done = req.get("ok", 0) + req.get("failed", 0)
        return req.get("failed", 0) / done if done else 0.0

    @property
    def client_bound(self) -> bool:
        """True when the generator, not the server, limited the run."""
        verdict: str = self._data.get("accuracy", {}).get("verdict", "valid")
        return verdict == "client_bound"

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(_plain(self._data))

    def __repr__(self) -> str:
        d = self._data
        lat = d.get("latency_ms", {})
        return (
            f"<LoadResult {d.get('scenario') or d.get('pattern', '?')}: "
            f"{d.get('throughput_rps', 0):.1f} rps, p99 {lat.get('p99', 0):.2f} ms, "
            f"errors {self.error_rate:.2%}>"
        )
