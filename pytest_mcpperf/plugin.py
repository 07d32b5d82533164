"""pytest wiring for pytest-mcpperf: options, ini keys, the `load` marker, fixtures,
the report header, the terminal summary and the report writer.

Only wiring lives here: settings are resolved in `settings.py`, checks in `criteria.py`,
fixture objects in `fixtures.py`, run state in `session.py`, output in `summary.py` and
`perfreport.py`.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from pytest_mcpperf import baseline
from pytest_mcpperf import settings as cfg
from pytest_mcpperf.errors import ConfigError, TargetError
from pytest_mcpperf.fixtures import (
    BaselineCompare,
    Compare,
    MemorySeries,
    PerfClient,
    Plan,
    StressCheck,
    load_engine,
    start_server,
)
from pytest_mcpperf.monitor import ServerMonitor
from pytest_mcpperf.progress import CallbackSink, LiveProgress, style_for
from pytest_mcpperf.session import PerfSession, recorder, session_key
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.summary import (
    client_bound_note,
    comparison_lines,
    contended_note,
    render,
    serial_note,
)
from pytest_mcpperf.target import Target

scenario_key = pytest.StashKey[cfg.Scenario]()

#: setting -> (metavar, what it does, its default in words)
_HELP = {
    "url": (
        "URL",
        "test an MCP server already running at URL instead of spawning one",
        "spawn the bundled server",
    ),
    "server_cmd": (
        "CMD",
        "spawn this command as the server under test; {port} in CMD becomes "
        'a free port, e.g. "python my_server.py {port}"',
        "the bundled server",
    ),
    "report": (
        "json[:PATH],html[:PATH]",
        "write the JSON report and/or the self-contained HTML report of every load test "
        f"to PATH (defaults {cfg.DEFAULT_REPORT_PATHS['json']}, "
        f"{cfg.DEFAULT_REPORT_PATHS['html']})",
        "no report",
    ),
    "progress": (
        "auto|line|none",
        "live progress of a run: auto rewrites one line on a terminal and writes a line "
        "every 10 s in a log or with CI set; line always writes the periodic lines",
        "auto",
    ),
    "duration": (
        "SECONDS",
        "run every load scenario for SECONDS, overriding the marker's duration",
        "each marker's duration",
    ),
    "processes": (
        "N",
        "load generator processes per scenario, unless the marker sets processes=",
        "1",
    ),
    "startup_timeout": (
        "SECONDS",
        "how long a spawned server may take to accept connections",
        "20",
    ),
    "transport": (
        "http|stdio",
        "how to reach the server: Streamable HTTP, or stdio (the server command is "
        "spawned and spoken to over its stdin/stdout; needs --mcp-server-cmd)",
        "http",
    ),
    "server_processes": (
        "N",
        "start N copies of a stdio server and spread the connections over them (for a "
        "server that answers one request at a time); a load marker's server_processes= "
        "starts more for its test",
        "1",
    ),
    "headers": (
        '"NAME: VALUE"',
        "send this HTTP header with every request (repeatable; ${VAR} in VALUE is read "
        "from the environment, so secrets stay out of files; values never appear in "
        "reports)",
        "none",
    ),
    "server_env": (
        "NAME=VALUE",
        "set this environment variable for the spawned server (repeatable; {port} in "
        "VALUE becomes its port)",
        "none",
    ),
    "server_path": (
        "PATH",
        "the spawned server's MCP endpoint path",
        "/mcp",
    ),
    "memory_check": (
        "PERCENT|true",
        "apply the memory criterion to every load test: no leak and server RSS growth "
        "under PERCENT (true: the seed's 10 %); a marker's memory_check= wins",
        "off",
    ),
}


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_mcpperf import hooks

    pluginmanager.add_hookspecs(hooks)


def _argparse_text(text: str) -> str:
    """Help text as argparse wants it: a literal % doubled (argparse %-formats help)."""
    return text.replace("%", "%%")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mcpperf", "MCP server performance (pytest-mcpperf)")
    for setting in cfg.SETTINGS:
        metavar, text, default = _HELP[setting.name]
        group.addoption(
            setting.flag,
            dest=cfg.dest(setting),
            metavar=metavar,
            default=None,
            type=cfg.cli_type(setting),
            action="append" if setting.repeat else "store",
            help=_argparse_text(
                f"{text}; env {setting.env}, ini {setting.ini} (default: {default})"
            ),
        )
        ini_help = f"{text}; option {setting.flag} (default: {default})"
        if setting.repeat:
            parser.addini(setting.ini, ini_help, type="linelist", default=[])
        else:
            parser.addini(setting.ini, ini_help, type="string", default="")
    _add_compare_options(group)


def _add_compare_options(group: Any) -> None:
    """--perf-repeat, --perf-save[=NAME], --perf-compare[=NAME] and their company."""
    for flag, (dest, metavar, raw_text) in cfg.COMPARE_OPTIONS.items():
        text = _argparse_text(raw_text)
        if not metavar:
            group.addoption(flag, dest=dest, action="store_true", default=False, help=text)
        elif flag in ("--perf-save", "--perf-compare"):
            group.addoption(
                flag,
                dest=dest,
                metavar=metavar,
                nargs="?",
                const="default",
                default=None,
                help=text,
            )
        else:
            group.addoption(flag, dest=dest, metavar=metavar, default=None, help=text)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{cfg.MARKER_SIGNATURE}: a performance scenario run by perf_client"
    )
    try:
        run = cfg.resolve_run_settings(config)
        comparing = cfg.resolve_compare_settings(config, config.rootpath)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    state = PerfSession(run, comparing)
    config.stash[session_key] = state
    config.pluginmanager.register(state, "mcpperf-session")
    if run.report is not None and not hasattr(config, "workerinput"):
        from pytest_mcpperf.perfreport import PerfReport
        from pytest_mcpperf.version import __version__

        for fmt, path in run.report:
            writer = PerfReport(config, path, lambda: state.entries, __version__, fmt=fmt)
            config.pluginmanager.register(writer, _REPORT_PLUGINS[fmt])


_REPORT_PLUGINS = {"json": "mcpperf-report", "html": "mcpperf-report-html"}


def pytest_unconfigure(config: pytest.Config) -> None:
    for name in (*_REPORT_PLUGINS.values(), "mcpperf-session"):
        plugin = config.pluginmanager.get_plugin(name)
        if plugin is not None:
            config.pluginmanager.unregister(plugin)
    if session_key in config.stash:
        del config.stash[session_key]


def pytest_report_header(config: pytest.Config) -> str:
    return cfg.header_line(config.stash[session_key].settings)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Validate the `load` marker(s) of a test before it runs; closest marker wins."""
    markers = list(item.iter_markers("load"))
    if not markers:
        return
    kwargs: dict[str, Any] = {}
    try:
        for mark in reversed(markers):
            kwargs.update(cfg.marker_kwargs(mark.args, mark.kwargs, "marker load"))
        item.stash[scenario_key] = cfg.parse_scenario(kwargs, "marker load")
        return
    except ConfigError as exc:
        error = str(exc)
    pytest.fail(error, pytrace=False)  # outside `except`: the message alone, no chain


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    entries = config.stash[session_key].entries if session_key in config.stash else []
    if not entries:
        return
    terminalreporter.write_sep("=", "mcpperf load results")
    for line in render(entries):
        terminalreporter.write_line(line)
    for note in (client_bound_note(entries), contended_note(entries), serial_note(entries)):
        if note:
            terminalreporter.write_line(note, yellow=True)
    compared = comparison_lines(entries)
    if compared:
        terminalreporter.write_sep("-", "mcpperf comparison with the baseline")
        for line in compared:
            terminalreporter.write_line(line)
    saved_to = config.stash[session_key].saved_to
    if saved_to is not None:
        terminalreporter.write_line(f"mcpperf: baseline saved to {saved_to}")


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def mcp_server(pytestconfig: pytest.Config) -> Iterator[Target]:
    """The server under test (one per session, per xdist worker): a `Target` with url,
    pid, protocol_version, alive(), rss()."""
    try:
        server = start_server(pytestconfig.stash[session_key].settings)
    except (TargetError, ConfigError) as exc:
        error = str(exc)
    else:
        error = ""
    if error:
        pytest.fail(error, pytrace=False)  # outside `except`: the message alone, no chain
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def perf_client(request: pytest.FixtureRequest, mcp_server: Target) -> PerfClient:
    """Runs the test's `load` scenario against `mcp_server`: `run()` / `await arun()`."""
    item = request.node
    run = request.config.stash[session_key].settings
    marker = item.stash.get(scenario_key, cfg.Scenario({}))

    def plan(overrides: Mapping[str, Any]) -> Plan:
        extra = cfg.parse_scenario(overrides, "perf_client.run()") if overrides else None
        spec = cfg.build_spec(
            url=mcp_server.url,
            run=run,
            marker=marker,
            overrides=extra,
            server_pid=mcp_server.pid,
            scenario=item.name,
        )
        memory_check, memory_source = cfg.effective_memory_check(marker, extra, run)
        return Plan(spec, cfg.effective_thresholds(marker, extra), memory_check, memory_source)

    def check_server() -> None:
        try:
            mcp_server.check_alive()
            return
        except TargetError as exc:
            error = str(exc)
        pytest.fail(error, pytrace=False)

    return PerfClient(
        plan=plan,
        engine=load_engine,
        check_server=check_server,
        record=recorder(item),
        progress=_live_progress(request.config, item.name, run.progress),
        repeat=request.config.stash[session_key].comparing.repeat,
        compare=_baseline_compare(request.config, item.nodeid),
    )


_baseline_key = pytest.StashKey[BaselineCompare]()


def _baseline_compare(config: pytest.Config, nodeid: str) -> Compare | None:
    """With --perf-compare: this test's comparison with the baseline (loaded once)."""
    c = config.stash[session_key].comparing
    if c.compare is None:
        return None
    if _baseline_key not in config.stash:
        here = baseline.fingerprint()
        found = baseline.load(c.baseline_dir, c.compare, here)

        def warn(message: str) -> None:
            warnings.warn(pytest.PytestWarning(f"mcpperf: {message}"), stacklevel=1)

        config.stash[_baseline_key] = BaselineCompare(
            found, c.compare, c.gates, force=c.force, here=here, warn=warn
        )
    return config.stash[_baseline_key].for_test(nodeid)


def _live_progress(
    config: pytest.Config, name: str, setting: str
) -> Callable[[LoadSpec], LiveProgress] | None:
    """Live progress through pytest's terminal writer (`--perf-progress`); xdist workers
    show nothing (their results arrive with their reports)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or hasattr(config, "workerinput"):
        return None
    style = style_for(setting, bool(getattr(reporter, "isatty", False)))
    if style is None:
        return None

    def outside_capture(fn: Callable[[], None]) -> None:
        # The test's output is being captured: step around it, as live logging does.
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            fn()

    def rewrite(text: str) -> None:
        def draw() -> None:
            if not started:
                reporter.ensure_newline()
                started.append(True)
            reporter.rewrite(text, erase=True)

        outside_capture(draw)

    def end() -> None:
        started.clear()
        outside_capture(lambda: reporter.write("\n"))

    started: list[bool] = []
    sink = CallbackSink(
        rewrite, lambda text: outside_capture(lambda: reporter.write_line(text)), end
    )
    return lambda spec: LiveProgress(sink, style, name, spec.warmup_s + spec.duration_s)


@pytest.fixture
def server_monitor(mcp_server: Target) -> Iterator[ServerMonitor]:
    """A started ServerMonitor on the server's process tree; `stop()` returns the summary."""
    if mcp_server.pid is None:
        pytest.fail(
            f"server_monitor needs the server's process, but {mcp_server.url} was given "
            'as a URL; let the plugin spawn it with --mcp-server-cmd "CMD {port}"',
            pytrace=False,
        )
    monitor = ServerMonitor(mcp_server.pids).start()
    yield monitor
    monitor.stop()


@pytest.fixture
def stress_check(mcp_server: Target, perf_client: PerfClient) -> StressCheck:
    """Stress with recovery: `stress_check(stress, policy=None)`.

    A light probe of `fast_compute` records the healthy range (2 one-second intervals
    by default; pass a `pytest_mcpperf.analysis.stress.ProbePolicy` to change it), then
    `stress()` runs (return `perf_client.run()`, or a list: the run expected to succeed
    first, deliberate faults after), then the probe runs until p99 and error rate are
    back in range (at most 60 s). Returns the stress run's result with `result.stress`
    (reliability_percent, grade, recovery_s, server_alive, passed), recorded for the
    summary and the report.
    """
    return StressCheck(
        mcp_server,
        lambda spec: load_engine().run(spec),
        perf_client.record,
        reach=perf_client.reach,
    )


@pytest.fixture
def memory_series(mcp_server: Target, perf_client: PerfClient) -> MemorySeries:
    """The server's memory per request: `memory_series(spec, chunks=10)`.

    Sends `spec.rate x spec.duration_s` requests of `spec` (e.g. `perf_client.spec()`)
    in chunks after a warm-up, sampling the server's RSS at time zero and after each
    chunk. Returns the result with `result.memory` (verdict stable | moderate | leak |
    insufficient, bytes_per_request, growth_percent, ...: the analysis `mcpperf memory`
    uses), recorded for the summary and the report. Skips the test when the server's
    pid is unknown (`--mcp-url`).
    """
    if mcp_server.pid is None:
        pytest.skip(
            f"the memory of {mcp_server.url} cannot be measured: --mcp-url gives no "
            "process; use --mcp-server-cmd so that the plugin spawns it"
        )
    return MemorySeries(mcp_server, lambda spec: load_engine().run(spec), perf_client.record)
