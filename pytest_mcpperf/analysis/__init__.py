"""Judging a run: criteria, stress phases and recovery, memory series and verdicts.

Nothing here sends load or parses arguments: it reads reports and series that the
engine (`pytest_mcpperf.engine`) produced, so every front end judges alike.
"""
