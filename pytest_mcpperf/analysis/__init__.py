"""Judging a run: criteria, stress phases and recovery, memory series and verdicts.

The analyses are pure functions over the reports and series the engine
(`pytest_mcpperf.engine`) produced. The procedures beside them (stress with recovery,
memory measured in chunks) take the engine as a callable and the server as anything
with url, pid, alive() and rss() (`analysis.server.MeasuredServer`), so every front end
(the `mcpperf` command, the plugin's fixtures) runs and judges alike.
"""
