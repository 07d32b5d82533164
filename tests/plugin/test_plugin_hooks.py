"""The plugin's hooks, implemented in a user project's conftest (fake engine and server)."""

from __future__ import annotations

import json
import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import FakeProject

HOOKS = textwrap.dedent("""

    def pytest_mcpperf_update_environment(config, environment):
        environment["ci_commit"] = "abc123"
        environment["cpu_count_seen"] = environment["cpu_count"] is not None


    def pytest_mcpperf_result(item, result):
        result["tagged_by"] = item.name
        result["seen_ok"] = result["requests"]["ok"]
""")


def add_hooks(project: FakeProject) -> None:
    conftest = project.pytester.path / "conftest.py"
    conftest.write_text(conftest.read_text() + HOOKS)


def test_update_environment_adds_to_the_report(fake_project: FakeProject) -> None:
    add_hooks(fake_project)
    fake_project.pytester.makepyfile("def test_plain():\n    pass\n")
    fake_project.run("--perf-report=json:r.json").assert_outcomes(passed=1)
    env = json.loads((fake_project.pytester.path / "r.json").read_text())["environment"]
    assert env["ci_commit"] == "abc123"
    assert env["cpu_count_seen"] is True
    assert "python" in env


def test_result_hook_sees_each_result_before_it_is_recorded(fake_project: FakeProject) -> None:
    add_hooks(fake_project)
    fake_project.pytester.makepyfile("""
        import pytest

        @pytest.mark.load(rate=50, duration=1)
        def test_tagged(perf_client):
            result = perf_client.run()
            assert result.tagged_by == "test_tagged"
            assert result.seen_ok == 50
    """)
    fake_project.run("--perf-report=json:r.json").assert_outcomes(passed=1)
    results = json.loads((fake_project.pytester.path / "r.json").read_text())["results"]
    assert [(r["tagged_by"], r["seen_ok"]) for r in results] == [("test_tagged", 50)]


def test_a_misspelt_hook_argument_is_refused(fake_project: FakeProject) -> None:
    conftest = fake_project.pytester.path / "conftest.py"
    conftest.write_text(
        conftest.read_text() + "\n\ndef pytest_mcpperf_result(item, reslt):\n    pass\n"
    )
    fake_project.pytester.makepyfile("def test_plain():\n    pass\n")
    result = fake_project.run()
    result.stderr.fnmatch_lines(["*pytest_mcpperf_result*reslt*"])
