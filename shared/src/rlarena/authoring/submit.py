"""`rlarena submit AGENT_ID PATH`: upload an agent (a .py, a .zip/.tar.gz, or a folder, zipped) as
a new version through the REST upload route, then follow its build until it is active or failed,
printing each step; on failure the build log. Exit codes: 0 active, 1 failed or refused, 2 not
logged in or a usage error."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rlarena.api_client.generated import ArenaApi, SubmissionStatus

# The statuses a build ends in (typed by the API's own enum: a misspelt one fails mypy).
ENDED: frozenset[SubmissionStatus] = frozenset({"active", "failed", "inactive"})
POLL_SECONDS = 1.0


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("agent_id", help="the agent to add a version to (rlarena status lists yours)")
    parser.add_argument("path", help="the agent: a .py file, a folder, or a .zip/.tar.gz archive")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to follow the build (default 900)")


def run(arguments: argparse.Namespace) -> int:
    from rlarena.authoring.session import against_platform

    path = Path(arguments.path).expanduser()
    if not path.exists():
        print(f"rlarena submit: {path}: no such file or folder", file=sys.stderr)
        return 2
    return against_platform("submit", lambda client: _submit(client, arguments.agent_id, path, arguments.timeout))


def _submit(client: ArenaApi, agent_id: str, path: Path, timeout: float) -> int:
    from rlarena.api_client.transport import Upload
    from rlarena.authoring.uploads import upload_of
    from rlarena.domain.archives import ArchiveLimits
    from rlarena.errors import RLArenaError

    try:
        filename, data = upload_of(path, ArchiveLimits())
    except RLArenaError as error:
        print(f"rlarena submit: {error.message}", file=sys.stderr)
        return 1
    submission = client.create_submission_upload(agent_id=agent_id, file=Upload(filename, data))["submission"]
    submission_id = submission["id"]
    print(f"uploaded {filename} ({len(data)} bytes) as version {submission['version']} of {submission['agentName']}")
    print(f"submission {submission_id}")
    status = _follow(client, submission_id, timeout)
    if status == "active":
        print(f"version {submission['version']} is active: it plays rated matches from now on")
        return 0
    if status not in ENDED:
        print(f"rlarena submit: still {status} after {timeout:g} s; check later with rlarena status", file=sys.stderr)
        return 1
    build = client.build_status(submission_id)
    logs = client.build_logs(submission_id)
    if logs["buildLog"]:
        print("build log:")
        print(logs["buildLog"])
    ending = "FAILED" if status == "failed" else f"ended {status}"
    print(f"{ending}: {build['errorMessage'] or 'the build did not make it active'}")
    return 1


def _follow(client: ArenaApi, submission_id: str, timeout: float) -> SubmissionStatus:
    """Print each new step of the build until it ends (or `timeout` passes); the last status."""
    seen = 0
    deadline = time.monotonic() + timeout
    while True:
        build = client.build_status(submission_id)
        history = build["history"]
        for step in history[seen:]:
            message = f": {step['message']}" if step["message"] else ""
            print(f"  {step['status']}{message}", flush=True)
        seen = max(seen, len(history))
        if build["status"] in ENDED or time.monotonic() >= deadline:
            return build["status"]
        time.sleep(POLL_SECONDS)
