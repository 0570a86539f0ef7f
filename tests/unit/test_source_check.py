"""The sandboxed source check: the agent interpreter compiles uploads in a child with limits."""

from __future__ import annotations

import pytest

from rlarena.adapters.source_check import CHECK_LIMITS, SandboxedSourceCheck, child_script
from rlarena.domain.archives import ArchiveLimits, inspect_upload
from rlarena.domain.python_sources import PythonSource, SourceProblem, SourceReport, check_sources
from rlarena.errors import InvalidInput, ServiceUnavailable, http_status
from rlarena.sandbox.process import SandboxLimits
from rlarena.sandbox.runtime_install import agent_python

CHECK = SandboxedSourceCheck(agent_python(None))
AGENT = "def agent(observation, configuration):\n    return 0\n"


def test_a_good_upload_reports_its_declaration_from_the_child() -> None:
    report = CHECK([PythonSource("agent.py", 'ENVIRONMENT = "chess"\n' + AGENT), PythonSource("lib/x.py", "X = 1\n")])
    assert report == SourceReport(declared_environment="chess")


def test_the_first_syntax_error_names_file_line_and_text() -> None:
    report = CHECK([PythonSource("agent.py", AGENT), PythonSource("lib/util.py", "import os\n\ndef broken(:\n")])
    assert report.problem is not None
    assert (report.problem.file, report.problem.line, report.problem.text) == ("lib/util.py", 3, "def broken(:")


def test_the_child_reports_what_the_rules_report_in_process() -> None:
    cases = [
        [PythonSource("agent.py", "return 1\n")],  # a compile-time error, not a parse error
        [PythonSource("agent.py", "x = " + "-" * 200_000 + "1\n")],  # nested too deeply
        [PythonSource("agent.py", "ENVIRONMENT = 'pong'\nENVIRONMENT: str = 'chess'\n" + AGENT)],
        [PythonSource("agent.py", "café = 'ü'\nENVIRONMENT = pick()\n")],
    ]
    for sources in cases:
        assert CHECK(sources) == check_sources(sources)


def test_a_long_line_in_an_error_is_quoted_short() -> None:
    report = CHECK([PythonSource("agent.py", "x = (" + "1, " * 100_000 + "\n")])
    assert report.problem is not None
    assert report.problem.text is not None and len(report.problem.text) <= 200


def test_an_upload_that_takes_the_check_too_long_is_the_users_to_fix() -> None:
    slow = SandboxedSourceCheck(CHECK.python, SandboxLimits(wall_seconds=0.5, cpu_seconds=30, memory_bytes=2 << 30))
    big = "ENVIRONMENT = 'pong'\n" + "a=1\n" * 250_000  # its syntax tree alone takes seconds
    with pytest.raises(InvalidInput) as caught:
        slow([PythonSource("agent.py", big)])
    assert caught.value.code == "source_too_complex"
    assert http_status(caught.value) == 400
    assert "split big files into smaller modules" in caught.value.message


def test_an_upload_that_takes_the_check_too_much_memory_is_refused_not_a_crash() -> None:
    small = SandboxedSourceCheck(CHECK.python, SandboxLimits(wall_seconds=60, cpu_seconds=30, memory_bytes=200 << 20))
    with pytest.raises(InvalidInput) as caught:
        inspect_upload("agent.py", b"a=1\n" * 250_000, ArchiveLimits(), small)
    assert caught.value.code in ("source_too_complex", "syntax_error")  # killed, or its MemoryError caught
    assert http_status(caught.value) == 400


@pytest.mark.parametrize("program", ["/bin/false", "/bin/echo"])
def test_a_check_that_cannot_report_is_the_platforms_failure(program: str) -> None:
    with pytest.raises(ServiceUnavailable):
        SandboxedSourceCheck(program)([PythonSource("agent.py", AGENT)])


def test_the_child_runs_the_rules_module_as_is_with_limits() -> None:
    script = child_script()
    assert script.startswith('"""The rules for uploaded Python source')
    assert "import rlarena" not in script and "from rlarena" not in script  # -I -S: the standard library only
    assert CHECK_LIMITS.memory_bytes <= 2 << 30 and CHECK_LIMITS.wall_seconds <= 60 and not CHECK_LIMITS.network


def test_the_report_from_the_child_is_validated() -> None:
    problem = SourceProblem("agent.py", 3, None, "x" * 5000, "m" * 5000)
    parsed = SourceReport.from_json(SourceReport(problem=problem).to_json())
    assert parsed.problem is not None and len(parsed.problem.text or "") == 200 and len(parsed.problem.message) == 300
    bad_reports: list[object] = [
        [],
        {"problem": {"file": 3}},
        {"environment": 5},
        {"problem": {"file": "a", "message": "m", "line": True}},
    ]
    for bad in bad_reports:
        with pytest.raises(ValueError):
            SourceReport.from_json(bad)
