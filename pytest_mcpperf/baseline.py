"""Saved baselines: a run's per-run summaries, kept in the user's repository, keyed by
the machine that measured them.

A baseline file `<dir>/<NAME>.json` holds, per machine fingerprint, the summaries of
each scenario (`{"machines": {id: {fingerprint, saved_at, scenarios: {name: [summary,
...]}}}}`). Figures from another machine (another CPU model, core count, OS, Python or
package version) are not evidence about this one: a comparison with them warns rather
than fails, unless the user forces it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pytest_mcpperf.errors import ConfigError

DEFAULT_DIR = Path(".mcpperf") / "baselines"
DEFAULT_NAME = "default"
SCHEMA = "mcpperf-baseline/1"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
#: The packages whose versions change what a run measures.
PACKAGES = ("pytest-mcpperf", "httptools", "uvloop", "hdrhistogram")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def fingerprint() -> dict[str, Any]:
    """What makes this machine's figures comparable with another's."""
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": {p: _version(p) for p in PACKAGES},
    }


def fingerprint_id(fp: Mapping[str, Any]) -> str:
    """A short, stable key for a fingerprint."""
    text = json.dumps(fp, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def check_name(name: str, where: str) -> str:
    """A baseline name usable as a file name."""
    if not NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"invalid baseline name {name!r} from {where}: expected letters, digits, '.', "
            "'_' or '-', e.g. main"
        )
    return name


def path_of(directory: Path, name: str) -> Path:
    return directory / f"{name}.json"


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"schema": SCHEMA, "machines": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(
            f"baseline file {path} is not valid JSON ({exc}): delete it and save the baseline again"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("machines"), dict):
        raise ConfigError(
            f"baseline file {path} is not an mcpperf baseline: delete it and save again"
        )
    return data


def save(
    directory: Path,
    name: str,
    scenarios: Mapping[str, Sequence[Mapping[str, Any]]],
    fp: Mapping[str, Any] | None = None,
) -> Path:
    """Store `scenarios` (name -> per-run summaries) for this machine; other scenarios
    and other machines already in the file are kept."""
    fp = dict(fp if fp is not None else fingerprint())
    path = path_of(directory, name)
    data = _read(path)
    machine = data["machines"].setdefault(fingerprint_id(fp), {"scenarios": {}})
    machine["fingerprint"] = fp
    machine["saved_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    machine["scenarios"].update({k: [dict(s) for s in v] for k, v in scenarios.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(path)
    return path


@dataclass(frozen=True)
class Baseline:
    """A stored baseline as this machine sees it."""

    path: Path
    scenarios: Mapping[str, list[dict[str, Any]]]
    fingerprint: Mapping[str, Any]
    same_machine: bool
    saved_at: str

    def mismatch(self, here: Mapping[str, Any]) -> str:
        """What differs between the baseline's machine and this one, in words."""
        diffs = [
            f"{key} {self.fingerprint.get(key)!r} there, {here.get(key)!r} here"
            for key in sorted(set(self.fingerprint) | set(here))
            if self.fingerprint.get(key) != here.get(key)
        ]
        return "; ".join(diffs)


def load(directory: Path, name: str, fp: Mapping[str, Any] | None = None) -> Baseline | None:
    """This machine's entry of the baseline NAME; else the most recently saved entry of
    another machine (`same_machine` False); None when there is no such baseline."""
    fp = dict(fp if fp is not None else fingerprint())
    path = path_of(directory, name)
    if not path.exists():
        return None
    machines: dict[str, Any] = _read(path)["machines"]
    own = machines.get(fingerprint_id(fp))
    if own is None and not machines:
        return None
    entry = own or max(machines.values(), key=lambda m: str(m.get("saved_at", "")))
    return Baseline(
        path=path,
        scenarios=entry.get("scenarios", {}),
        fingerprint=entry.get("fingerprint", {}),
        same_machine=own is not None,
        saved_at=str(entry.get("saved_at", "")),
    )


def append_markdown(text: str, path: str | Path) -> None:
    """Add a markdown block to a file (GitHub's $GITHUB_STEP_SUMMARY is appended to)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(text if text.endswith("\n") else text + "\n")


__all__ = [
    "DEFAULT_DIR",
    "Baseline",
    "append_markdown",
    "check_name",
    "fingerprint",
    "fingerprint_id",
    "load",
    "save",
]
