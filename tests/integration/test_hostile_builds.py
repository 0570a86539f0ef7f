"""Hostile uploads against the build path (the local builder's probe and validation match).

The attacker's code strikes while it is imported, which happens in the sandboxed probe and again
in both sandboxes of the validation match. It reports what it tried on stderr (`ATTACK {json}`),
which the build log keeps; each test asserts that report (the attack ran) and its containment.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from rlarena.bootstrap import Platform
from rlarena.domain.statuses import SubmissionStatus
from tests.support.api import ApiClient, User
from tests.support.builds import agent_for, build
from tests.support.hostile import REPORT, SQUAT, attack_report, live_processes_of

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the strict sandbox's pool uids and cgroups need root")

GOOD = b"def agent(observation, configuration):\n    return observation['action_mask'].index(1)\n"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"SUBMISSIONS_PER_AGENT_PER_DAY": 50, "SUBMISSION_RATE_LIMIT_PER_MINUTE": 1000}


@pytest.fixture
def victim(api: ApiClient) -> User:
    return api.register("victim")


@pytest.fixture
def attacker(api: ApiClient) -> User:
    return api.register("mallory")


def test_an_upload_cannot_touch_another_users_build_or_the_platforms_data(
    platform: Platform, api: ApiClient, victim: User, attacker: User
) -> None:
    victims_agent = agent_for(api, victim, "tic-tac-toe")
    built = build(platform, victim, victims_agent, {"agent.py": GOOD})
    assert built.status == SubmissionStatus.ACTIVE.value, built.error_message
    assert built.docker_image_url is not None
    victim_folder = Path(built.docker_image_url.removeprefix("local://"))
    data_dir = platform.settings.data_dir.resolve()
    code = (
        REPORT
        + f"""
targets = {{"victim": {str(victim_folder / "agent.py")!r}, "data": {str(data_dir)!r}}}
outcome = {{}}
try:
    with open(targets["victim"], "a") as handle:
        handle.write("raise SystemExit('owned')\\n")
    outcome["write victim"] = "written"
except OSError as error:
    outcome["write victim"] = type(error).__name__
readable = []
for folder, _, files in os.walk(targets["data"]):
    for name in files:
        try:
            with open(os.path.join(folder, name), "rb") as handle:
                handle.read(64)
            readable.append(os.path.join(folder, name))
        except OSError:
            pass
outcome["data visible"] = os.path.exists(targets["data"])
report("builds", outcome=outcome, readable=readable, uid=os.getuid())
"""
        + GOOD.decode()
    )
    attackers_agent = agent_for(api, attacker, "tic-tac-toe")
    result = build(platform, attacker, attackers_agent, {"agent.py": code.encode()})
    found = attack_report(result.build_log, "builds")
    assert found["outcome"] == {"write victim": "FileNotFoundError", "data visible": False}, found
    assert found["readable"] == []
    assert (victim_folder / "agent.py").read_bytes() == GOOD
    # The build folders live in the private data folder, owned by the platform.
    assert victim_folder.is_relative_to(data_dir / "builds")
    assert victim_folder.stat().st_uid == 0 and (data_dir / "builds").stat().st_mode & 0o077 == 0


def test_a_process_squat_in_one_build_leaves_the_next_users_build_unharmed(
    platform: Platform, api: ApiClient, victim: User, attacker: User
) -> None:
    code = REPORT + SQUAT + GOOD.decode()
    squat = build(platform, attacker, agent_for(api, attacker, "tic-tac-toe"), {"agent.py": code.encode()})
    found = attack_report(squat.build_log, "squat")
    assert found["children"] > 10 and "Resource temporarily unavailable" in found["error"], found
    deadline = time.monotonic() + 5
    while live_processes_of() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_processes_of() == {}, "the squatter's children outlived its build"
    after = build(platform, victim, agent_for(api, victim, "tic-tac-toe"), {"agent.py": GOOD})
    assert after.status == SubmissionStatus.ACTIVE.value, after.error_message


def test_a_build_folder_is_fresh_each_attempt_and_never_writable_by_agents(
    platform: Platform, api: ApiClient, victim: User
) -> None:
    first = build(platform, victim, agent_for(api, victim, "tic-tac-toe"), {"agent.py": GOOD})
    second = build(platform, victim, agent_for(api, victim, "connect-four"), {"agent.py": GOOD})
    folders = [Path(str(s.docker_image_url).removeprefix("local://")) for s in (first, second)]
    assert folders[0] != folders[1]
    for folder in folders:
        for path in [folder, *folder.rglob("*")]:
            info = path.lstat()
            assert info.st_uid == os.geteuid() and info.st_mode & 0o022 == 0, path
    assert uuid.UUID(folders[0].parent.name)  # <builds>/<submission id>/attempt-N-<random>
