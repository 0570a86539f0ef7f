"""What the hostile-agent tests share: the attackers' report line, and who is still running."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rlarena.sandbox import uid_pool

# Prepended to every attacker: one `ATTACK {json}` line on stderr says what it tried and found.
REPORT = """
import json, os, sys

def report(name, **found):
    print("ATTACK " + json.dumps({"attack": name, **found}), file=sys.stderr, flush=True)
"""

# Forks setsid children until the kernel refuses, then reports how many it got and why it stopped.
SQUAT = """
import time
children, error = 0, ""
for _ in range(500):
    try:
        pid = os.fork()
    except OSError as problem:
        error = str(problem)
        break
    if pid == 0:
        os.setsid()
        time.sleep(600)
        os._exit(0)
    children += 1
report("squat", children=children, error=error)
"""


def attack_report(text: str | None, name: str) -> dict[str, Any]:
    """The attacker's own account of attack `name`: proof the attack ran (fails the test if not)."""
    for line in (text or "").splitlines():
        if line.startswith("ATTACK "):
            found: dict[str, Any] = json.loads(line[len("ATTACK ") :])
            if found["attack"] == name:
                return found
    pytest.fail(f"the {name!r} attack never reported (it did not run):\n{(text or '')[-2000:]}")


def live_processes_of(uids: set[int] | None = None) -> dict[int, int]:
    """Live (not zombie) processes running as a sandbox pool uid (or one of `uids`): pid -> uid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        uid = int(fields.get("Uid", "-1").split()[0])
        wanted = uid in uids if uids is not None else uid_pool.in_pool(uid)
        if wanted and not fields.get("State", "").strip().startswith("Z"):
            found[int(entry.name)] = uid
    return found
