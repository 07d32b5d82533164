"""A stand-in for pytest.Config in the settings tests."""

from __future__ import annotations

from typing import Any


class FakeConfig:
    """Just enough of pytest.Config: option values by dest, ini values by key."""

    def __init__(
        self, options: dict[str, Any] | None = None, ini: dict[str, str] | None = None
    ) -> None:
        self.options = options or {}
        self.ini = ini or {}

    def getoption(self, name: str) -> Any:
        return self.options.get(name)

    def getini(self, name: str) -> Any:
        return self.ini.get(name, "")
