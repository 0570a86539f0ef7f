"""Uploaded Python source is compiled in a sandboxed child, never in the platform's own process.

Compiling is not running, but it is not cheap either: 10 MiB of `a=1` lines took CPython 3.11
about 18 s and 4 GB to compile, holding the interpreter lock the whole time, so an upload parsed in
the API's request thread stalled every other request of the process (GET /health included). Here
the agent interpreter (AGENT_PYTHON: the Python the agent will run on, so its syntax is what counts)
runs `domain/python_sources.py`, which is standard-library only, as `python -I -S -c`: it reads the
sources as JSON from stdin and prints one JSON line. The child has the sandbox's limits (wall clock,
CPU seconds, memory) and an empty working folder of its own; the request thread only waits on a
pipe, with the interpreter lock free.

An upload that makes the check run out of time or memory is the user's to fix (400
source_too_complex); a check that cannot run at all is the platform's (503).
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from rlarena.config import Settings
from rlarena.domain.python_sources import PythonSource, SourceReport
from rlarena.errors import InvalidInput, ServiceUnavailable
from rlarena.sandbox.process import SandboxLimits, SandboxResult, prepare_workdir, run_sandboxed
from rlarena.sandbox.runtime_install import agent_python_for

log = logging.getLogger(__name__)

# One source file at the default cap (SOURCE_FILE_MAX_BYTES, 1 MiB) of `a=1` lines compiles in about
# 1 s and 450 MiB on CPython 3.11, and with its syntax tree (built for the entry point when it
# mentions ENVIRONMENT) in about 3.5 s and 650 MiB. These limits leave room for that and for a whole
# upload of such files, and still stop the check long before it could hurt the host.
CHECK_LIMITS = SandboxLimits(wall_seconds=60, cpu_seconds=30, memory_bytes=1536 * 1024 * 1024)
# The child's argv[1]: names it in a process list (and lets tests see it run).
CHILD_MARKER = "rlarena-source-check"

# Appended to python_sources.py to make the child's script: the only I/O of the check.
_CHILD_MAIN = """

def _serve_source_check() -> None:
    import json
    import sys

    request = json.loads(sys.stdin.buffer.read())
    sources = [PythonSource(str(path), str(text)) for path, text in request.pop("sources")]
    del request
    print(json.dumps(check_sources(sources).to_json()), flush=True)


_serve_source_check()
"""


@dataclass(frozen=True)
class SandboxedSourceCheck:
    """The domain's `SourceCheck`, run by `python` (the agent interpreter) in the sandbox."""

    python: str
    limits: SandboxLimits = CHECK_LIMITS

    def __call__(self, sources: list[PythonSource], /) -> SourceReport:
        if not sources:
            return SourceReport()
        request = {"sources": [[source.path, source.text] for source in sources]}
        payload = json.dumps(request, ensure_ascii=False).encode("utf-8")
        return _report(run_source_check(self.python, payload, self.limits), self.limits)


def source_check_for(settings: Settings) -> SandboxedSourceCheck:
    return SandboxedSourceCheck(agent_python_for(settings))


def run_source_check(python: str, payload: bytes, limits: SandboxLimits) -> SandboxResult:
    """The one call into the sandbox: `payload` on stdin, in a fresh empty folder removed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="rlarena-source-check-"))
    try:
        prepare_workdir(workdir)
        return run_sandboxed(
            [python, "-I", "-S", "-c", child_script(), CHILD_MARKER], cwd=workdir, limits=limits, stdin=payload
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@functools.cache
def child_script() -> str:
    rules = resources.files("rlarena.domain").joinpath("python_sources.py").read_text(encoding="utf-8")
    return rules + _CHILD_MAIN


def _report(result: SandboxResult, limits: SandboxLimits) -> SourceReport:
    if result.exit_code == 0:
        lines = result.stdout.strip().splitlines()
        try:
            return SourceReport.from_json(json.loads(lines[-1]))
        except (IndexError, ValueError) as error:
            log.warning("the source check printed no report (%s): %s", result.reason, result.stdout[-500:])
            raise ServiceUnavailable("the Python files could not be checked; try again later") from error
    if result.timed_out or result.signal is not None or _ran_out_of_memory(result):
        raise InvalidInput(
            "checking the Python files took more than the "
            f"{limits.wall_seconds:g} s or {limits.memory_bytes // (1024 * 1024)} MiB the check allows "
            f"({result.reason}): split big files into smaller modules and keep data (tables, weights) in data files",
            code="source_too_complex",
            details={"wallSeconds": limits.wall_seconds, "memoryBytes": limits.memory_bytes},
        )
    log.warning("the source check failed (%s): %s", result.reason, result.stderr[-2000:])
    raise ServiceUnavailable(f"the Python files could not be checked ({result.reason}); try again later")


def _ran_out_of_memory(result: SandboxResult) -> bool:
    last = result.stderr.strip().splitlines()[-1:] or [""]
    return last[0].startswith("MemoryError")
