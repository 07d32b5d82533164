"""`python -m pytest_mcpperf.cli`: the `mcpperf` command."""

from __future__ import annotations

import sys

from pytest_mcpperf.cli import main

sys.exit(main())
