"""The exit statuses of `mcpperf`, and the help text that lists them.

`mcpperf --help`, every subcommand's help and the README show the same table.
"""

from __future__ import annotations

import argparse
import textwrap
from enum import IntEnum


class Exit(IntEnum):
    """What `mcpperf` returns to the shell."""

    OK = 0
    FAILED = 1
    USAGE = 2
    INTERRUPTED = 130


MEANING: dict[Exit, str] = {
    Exit.OK: "the run happened and met its criteria",
    Exit.FAILED: "the run happened and failed its criteria",
    Exit.USAGE: "usage or setup error: a bad option value (bad URL, a number that is not "
    "finite or out of range), a server that cannot be reached or that exits "
    "at startup",
    Exit.INTERRUPTED: "interrupted (Ctrl-C)",
}


def epilog() -> str:
    """The 'exit status' table shown at the end of every `--help`."""
    rows = [
        textwrap.fill(
            MEANING[code], width=78, initial_indent=f"  {int(code):<5}", subsequent_indent=" " * 7
        )
        for code in Exit
    ]
    return "exit status:\n" + "\n".join(rows)


EPILOG = epilog()
#: Keeps the table's line breaks in `--help` (and the description's, where it has some).
FORMATTER = argparse.RawDescriptionHelpFormatter

__all__ = ["EPILOG", "FORMATTER", "MEANING", "Exit", "epilog"]
