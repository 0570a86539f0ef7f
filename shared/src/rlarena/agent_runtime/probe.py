"""`python -I -m rlarena.agent_runtime.probe <folder> <entry_point>`: can this agent be loaded?

Prints exactly one JSON line on stdout and exits 0 when it can:
    {"ok": true, "interface": "function", "method": "agent", "target": "...", "layer": "native"}
plus `"environment": "chess"` when the loaded module has a string `ENVIRONMENT` (the game the code
declares it plays; the builder compares it with the agent's), or exits 1 when it cannot be loaded
(2 for a bad command line):
    {"ok": false, "error": "what to fix", "traceback": "the user's traceback, or empty"}

Whatever the agent prints while being imported goes to stderr, even from C code, because file
descriptor 1 is pointed at stderr for that time. The report is advisory: the agent's code runs
in this process and could forge it, so it decides what the user is told, never what the
platform trusts; the sandbox around this process is the security boundary.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from pathlib import Path

from rlarena.agent_runtime.loader import MODULE_NAME, AgentLoadError, load_agent

USAGE = "usage: python -I -m rlarena.agent_runtime.probe <folder> <entry_point>"
ENVIRONMENT_CONSTANT = "ENVIRONMENT"
_DECLARED_CAP = 100


def probe(folder: str, entry_point: str) -> dict[str, object]:
    try:
        agent = load_agent(Path(folder), entry_point)
    except AgentLoadError as error:
        return {"ok": False, "error": error.message, "traceback": error.user_traceback}
    except BaseException as error:  # a bug of ours, or something exotic: still one JSON line
        return {
            "ok": False,
            "error": f"the agent could not be loaded: {type(error).__name__}: {error}",
            "traceback": traceback.format_exc(),
        }
    report: dict[str, object] = {
        "ok": True,
        "interface": agent.interface,
        "method": agent.method,
        "target": agent.target,
        "layer": agent.layer,
    }
    try:  # the module's own __getattr__ may raise
        declared = getattr(sys.modules.get(MODULE_NAME), ENVIRONMENT_CONSTANT, None)
    except Exception:
        declared = None
    if isinstance(declared, str):
        report["environment"] = declared[:_DECLARED_CAP]
    return report


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        _emit(sys.stdout.fileno(), {"ok": False, "error": USAGE, "traceback": ""})
        return 2
    sys.stdout.flush()
    report_fd = os.dup(1)
    os.dup2(2, 1)
    report = probe(argv[0], argv[1])
    with contextlib.suppress(Exception):  # the agent may have replaced or closed sys.stdout
        sys.stdout.flush()
    _emit(report_fd, report)
    return 0 if report["ok"] else 1


def _emit(fd: int, report: dict[str, object]) -> None:
    data = (json.dumps(report) + "\n").encode()
    while data:
        data = data[os.write(fd, data) :]


if __name__ == "__main__":
    code = main(sys.argv[1:])
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    # Skip interpreter shutdown: threads or atexit hooks the agent left behind must not keep
    # the process alive (into the wall-clock limit) or print after the report.
    os._exit(code)
