"""What the generated client's types catch before anything runs: mypy --strict on code that uses
the committed client (rlarena/api_client/generated.py) rightly and wrongly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

USES = """\
from rlarena.api_client.generated import ArenaApi, SubmissionStatus
from rlarena.api_client.transport import Upload

client = ArenaApi("http://127.0.0.1:1", token="t")
agent = client.get_agent("a")["agent"]
name: str = agent["name"]
rank: int | None = agent["rank"]
ended: SubmissionStatus = client.build_status("s")["status"]
client.create_submission_upload(agent_id="a", file=Upload("agent.py", b"code"))
html: bytes = client.replay("m", format="html")
"""

MISUSES = {
    'elo: str = agent["elo"]': 'Incompatible types in assignment (expression has type "int", variable has type "str")',
    'client.replay("m", format="pdf")': 'Argument "format" to "replay" of "ArenaApi" has incompatible type',
    'client.create_agent({"name": "x"})': 'Missing key "environmentId" for TypedDict "CreateAgent"',
    'agent["nmae"]': 'TypedDict "Agent" has no key "nmae"',
    'client.list_agents(page="2")': 'Argument "page" to "list_agents" of "ArenaApi" has incompatible type "str"',
    'late: SubmissionStatus = "done"': "Incompatible types in assignment",
    'client.create_submission_upload(agent_id="a", file=b"code")': 'incompatible type "bytes"; expected "Upload"',
    "rank + 1": 'Unsupported operand types for + ("None" and "int")',
}


def mypy(source: str, folder: Path) -> list[str]:
    path = folder / "uses.py"
    path.write_text(source)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--hide-error-context",
         "--cache-dir", str(folder / "cache"), path.name],
        capture_output=True, text=True, check=False, cwd=folder,
    )  # fmt: skip
    return [line for line in done.stdout.splitlines() if ": error:" in line]


def test_right_uses_pass_and_each_wrong_one_is_an_error_on_its_line(tmp_path: Path) -> None:
    assert mypy(USES, tmp_path) == []
    wrong = list(MISUSES)
    errors = mypy(USES + "\n".join(wrong) + "\n", tmp_path)
    first = USES.count("\n") + 1
    for offset, (line, message) in enumerate(MISUSES.items()):
        mine = [error for error in errors if error.startswith(f"uses.py:{first + offset}:")]
        assert any(message in error for error in mine), (line, mine or errors)
