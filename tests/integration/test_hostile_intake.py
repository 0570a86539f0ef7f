"""Hostile intake through the HTTP API (SQLite and PostgreSQL): decompression bombs, huge sources and
huge error texts. Each test first shows that its attack is real, then that it was contained.

- Bombs (bzip2 and LZMA zip members, a tar.gz) really expand to 256 MiB, five times the unpacked
  budget, yet are refused with a 400 while the API process holds little more than the budget, and
  nothing is stored. (Before, zipfile inflated a bzip2 member whole in a single read.)
- A source file over SOURCE_FILE_MAX_BYTES is refused before anything parses it; one under it is
  compiled in the sandboxed child, never in this process, and the API answers meanwhile.
- A 300,000-character error from an agent is stored and served at most 10,000 characters long,
  whichever path brings it (a real match, the executor, a build, a failed match, a bulk UPDATE).
"""

from __future__ import annotations

import io
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from rlarena.adapters.builders.base import BuildOutcome
from rlarena.adapters.db.models import Match, Submission
from rlarena.adapters.source_check import CHILD_MARKER
from rlarena.bootstrap import Platform
from rlarena.domain.texts import ERROR_TEXT_CAP
from rlarena.events.publisher import RecordingPublisher
from rlarena.executor.app import sandboxed_runner
from rlarena.executor.service import AgentEntry, AgentOutcome, ExecutorService, MatchOrder, MatchReport, Played
from rlarena.sandbox.runtime_install import agent_python, install_runtime
from rlarena.service import build_queue, builds, match_lifecycle, submissions
from tests.support.api import ApiClient, User
from tests.support.bombs import (
    MIB,
    expanded_tar_gz,
    expanded_zip_member,
    stored_member,
    tar_gz_of_zeros,
    zeros_member,
    zip_of,
)
from tests.support.seed import activate, insert_match

BOMB = 256 * MIB
AGENT = b"def agent(observation, configuration):\n    return observation['action_mask'].index(1)\n"
HUGE_ERROR = 300_000
CUT_MARKER = "more characters cut]"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # The bombs below are sized against a 50 MiB unpacked budget (the default is 100 MiB).
    return {
        "SUBMISSIONS_PER_AGENT_PER_DAY": 50,
        "SUBMISSION_RATE_LIMIT_PER_MINUTE": 1000,
        "ARCHIVE_MAX_UNPACKED_BYTES": 50 * MIB,
    }


@pytest.fixture
def owner(api: ApiClient) -> User:
    return api.register("attacker")


@pytest.fixture
def agent_id(api: ApiClient, owner: User) -> str:
    return str(api.create_agent(owner, "bomber", "tic-tac-toe")["id"])


def upload(api: ApiClient, user: User, agent_id: str, filename: str, data: bytes) -> Any:
    return api.post(
        "/api/v1/submissions",
        data={"agentId": agent_id, "file": (io.BytesIO(data), filename)},
        headers=user.headers,
        content_type="multipart/form-data",
    )


def assert_nothing_stored(platform: Platform) -> None:
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Submission)) == 0
    assert platform.store.list("submissions/") == []


def peak_during(work: Any) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = work()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- bombs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bomb:
    filename: str
    data: bytes
    expanded: int  # counted independently, one piece at a time


@pytest.fixture(scope="module")
def bombs() -> dict[str, Bomb]:
    """256 MiB of zeros per bomb, with 1 MiB of incompressible padding so that the ratio guard
    (100 x the upload) cannot stop them before the 50 MiB budget: the budget has to."""
    padding = random.Random(11).randbytes(MIB)
    built: dict[str, Bomb] = {}
    for name, method in (("bzip2", zipfile.ZIP_BZIP2), ("lzma", zipfile.ZIP_LZMA)):
        data = zip_of(
            [
                stored_member("agent.py", AGENT),
                stored_member("padding.bin", padding),
                zeros_member("w.bin", method, BOMB),
            ]
        )
        built[name] = Bomb(f"{name}.zip", data, expanded_zip_member(data, "w.bin", stop_after=BOMB))
    data = tar_gz_of_zeros("w.bin", BOMB, {"agent.py": AGENT, "padding.bin": padding})
    built["tar.gz"] = Bomb("bomb.tar.gz", data, expanded_tar_gz(data, stop_after=BOMB))
    return built


@pytest.mark.parametrize("kind", ["bzip2", "lzma", "tar.gz"])
def test_a_bomb_is_refused_at_the_unpacked_budget_and_nothing_is_stored(
    api: ApiClient, platform: Platform, owner: User, agent_id: str, bombs: dict[str, Bomb], kind: str
) -> None:
    bomb = bombs[kind]
    budget = platform.settings.archive_max_unpacked_bytes
    assert bomb.expanded >= BOMB >= 5 * budget  # the attack is real
    assert 100 * len(bomb.data) > budget  # and only the budget can stop it

    response, peak = peak_during(lambda: upload(api, owner, agent_id, bomb.filename, bomb.data))

    assert response.status_code == 400, response.json
    assert response.json["code"] == "unpacked_too_large"
    assert "unpacks to more than 50 MiB" in response.json["error"]
    assert peak < budget + 32 * MIB, f"the API held {peak / MIB:.0f} MiB refusing a {BOMB // MIB} MiB bomb"
    assert_nothing_stored(platform)


@pytest.fixture(scope="module")
def bare_bzip2_bomb() -> bytes:
    return zip_of([zeros_member("agent.py", zipfile.ZIP_BZIP2, BOMB)])


def test_the_bzip2_bomb_of_the_report_stops_after_a_few_mib(
    api: ApiClient, platform: Platform, owner: User, agent_id: str, bare_bzip2_bomb: bytes
) -> None:
    # The attack as it was found: one bzip2 member, tiny, nothing else (it was 2 GiB in 1.9 KB).
    data = bare_bzip2_bomb
    assert len(data) < 1024
    assert expanded_zip_member(data, "agent.py", stop_after=BOMB) == BOMB

    response, peak = peak_during(lambda: upload(api, owner, agent_id, "bot.zip", data))

    assert response.status_code == 400, response.json
    assert response.json["code"] in ("compression_ratio", "source_too_large")
    assert peak < 24 * MIB, f"the API held {peak / MIB:.0f} MiB"
    assert_nothing_stored(platform)


# -- sources -------------------------------------------------------------------------------------


@dataclass
class Watch:
    """What this process did while watched: compiles of text containing `token`, and source-check children."""

    token: str
    compiled: list[str] = field(default_factory=list)
    checks: list[list[str]] = field(default_factory=list)


_WATCHES: list[Watch] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    for watch in list(_WATCHES):
        if event == "compile":
            source = args[0]
            text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
            if isinstance(text, str) and watch.token in text:
                watch.compiled.append(str(args[1]))
        elif event == "subprocess.Popen":
            argv = [str(part) for part in args[1] or ()]
            if CHILD_MARKER in argv:
                watch.checks.append(argv)


sys.addaudithook(_audit)  # audit hooks cannot be removed: it does nothing outside `watching`


@contextmanager
def watching(token: str) -> Iterator[Watch]:
    watch = Watch(token)
    _WATCHES.append(watch)
    try:
        yield watch
    finally:
        _WATCHES.remove(watch)


def test_a_source_over_the_cap_is_refused_before_anything_parses_it(
    api: ApiClient, platform: Platform, owner: User, agent_id: str
) -> None:
    token = f"# hostile-{uuid.uuid4().hex}\n"
    huge = (token + AGENT.decode() + "a=1\n" * (8 * MIB // 4)).encode()  # 8 MiB: within the upload limit
    assert len(huge) > platform.settings.source_file_max_bytes

    with watching(token) as seen:
        response = upload(api, owner, agent_id, "agent.py", huge)

    assert response.status_code == 400, response.json
    assert response.json["code"] == "source_too_large"
    assert response.json["details"] == {"file": "agent.py", "maxSourceBytes": 1024 * 1024}
    assert "larger than 1 MiB, the limit for one source file" in response.json["error"]
    assert seen.compiled == [] and seen.checks == []  # refused on its size alone
    assert_nothing_stored(platform)


def test_a_huge_allowed_source_is_compiled_in_the_child_while_the_api_answers(
    api: ApiClient, platform: Platform, owner: User, agent_id: str
) -> None:
    token = f"# hostile-{uuid.uuid4().hex}\n"
    head = f'ENVIRONMENT = "tic-tac-toe"\n{token}'.encode() + AGENT
    source = head + b"a=1\n" * ((platform.settings.source_file_max_bytes - len(head)) // 4)
    assert len(source) <= platform.settings.source_file_max_bytes  # allowed, yet seconds of compiling
    replies: list[Any] = []

    with watching(token.strip()) as seen:
        sender = threading.Thread(target=lambda: replies.append(upload(api, owner, agent_id, "agent.py", source)))
        sender.start()
        child = wait_for_descendant(CHILD_MARKER, seconds=30)
        health = api.get("/health")
        still_checking = is_alive(child)
        sender.join(timeout=120)

    assert health.status_code == 200
    assert still_checking, "GET /health was answered only after the check had finished"
    assert replies and replies[0].status_code == 201, replies and replies[0].json
    assert seen.compiled == [], f"the upload was compiled in the API's process: {seen.compiled}"
    assert len(seen.checks) == 1 and seen.checks[0][-1] == CHILD_MARKER


def wait_for_descendant(marker: str, *, seconds: float) -> int:
    """The pid of a process below this one whose command line holds `marker`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for pid in descendants(os.getpid()):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if marker.encode() in argv:
                return pid
        time.sleep(0.01)
    raise AssertionError(f"no process with {marker!r} started within {seconds} s")


def descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# -- huge error texts ----------------------------------------------------------------------------


RAISES_HUGE = (
    "import sys\n"
    "def agent(observation, configuration):\n"
    f"    message = 'A' * {HUGE_ERROR}\n"
    "    print('raising an error of', len(message), 'characters', file=sys.stderr)\n"
    "    raise RuntimeError(message)\n"
)


def assert_capped(text: str | None, *, starts: str) -> None:
    assert text is not None
    assert len(text) <= ERROR_TEXT_CAP, len(text)
    assert text.startswith(starts), text[:200]


@pytest.fixture
def agent_folders() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="rlarena-hostile-intake-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def agent_folder(root: Path, code: str) -> Path:
    folder = root / uuid.uuid4().hex
    folder.mkdir()
    folder.chmod(0o755)
    (folder / "agent.py").write_text(code)
    (folder / "agent.py").chmod(0o644)
    return folder


def booked_match(api: ApiClient, platform: Platform, owner: User) -> tuple[str, str, str]:
    first = str(api.create_agent(owner, "plays", "tic-tac-toe")["id"])
    second = str(api.create_agent(owner, "raises", "tic-tac-toe")["id"])
    activate(platform, first)
    activate(platform, second)
    return insert_match(platform, first, second), first, second


def test_an_agents_300k_character_error_in_a_real_match_is_served_capped(
    api: ApiClient, platform: Platform, owner: User, agent_folders: Path
) -> None:
    match_id, first, second = booked_match(api, platform, owner)
    published = RecordingPublisher()
    executor = ExecutorService(
        sandboxed_runner(install_runtime(agent_python(None))), published, platform.store, max_concurrent=1, version="t"
    )
    order = MatchOrder(
        match_id,
        "tic-tac-toe",
        (
            AgentEntry(first, agent_folder(agent_folders, AGENT.decode()), "agent.py"),
            AgentEntry(second, agent_folder(agent_folders, RAISES_HUGE), "agent.py"),
        ),
        seed=1,
        record_replay=False,
    )
    try:
        report = executor.submit(order, wait=True)
    finally:
        executor.shutdown(grace_seconds=5)

    assert report is not None and report.status == "SUCCESS"
    logs = api.get(f"/api/v1/matches/{match_id}/logs", headers=owner.headers)
    assert logs.status_code == 200, logs.json
    raiser = next(entry for entry in logs.json["logs"] if entry["agentId"] == second)
    assert f"raising an error of {HUGE_ERROR} characters" in raiser["logs"]  # the attack ran
    assert raiser["status"] == "ERROR"
    assert_capped(raiser["errorMessage"], starts="RuntimeError: AAAA")
    finished = next(e for e in published.events if e["type"] == "dev.rlarena.match.finished")
    for result in (finished.get_data() or {})["agentResults"]:
        assert len(result.get("errorMessage") or "") <= ERROR_TEXT_CAP


def test_an_uncapped_error_reaching_the_executor_is_stored_announced_and_served_capped(
    api: ApiClient, platform: Platform, owner: User
) -> None:
    # Not every runner caps what it reports (a match Pod's result log is read back as written):
    # the executor caps where it stores and announces, whatever ran the match.
    match_id, first, second = booked_match(api, platform, owner)
    raw = "RuntimeError: " + "B" * HUGE_ERROR
    sent: list[MatchReport] = []

    def uncapped_runner(order: MatchOrder) -> Played:
        outcomes = [AgentOutcome(first, 1.0, "OK"), AgentOutcome(second, 0.0, "ERROR", raw, logs="boom")]
        sent.append(MatchReport(order.match_id, "SUCCESS", first, outcomes, total_steps=3))
        return Played(sent[-1], None)

    published = RecordingPublisher()
    executor = ExecutorService(uncapped_runner, published, platform.store, max_concurrent=1, version="t")
    order = MatchOrder(
        match_id, "tic-tac-toe", (AgentEntry(first, Path("/x"), "a.py"), AgentEntry(second, Path("/y"), "a.py")), seed=1
    )
    try:
        executor.submit(order, wait=True)
    finally:
        executor.shutdown(grace_seconds=5)

    assert len(sent[0].agent_results[1].error_message) > HUGE_ERROR  # what the runner handed over
    stored = executor.stored_result(match_id)
    assert stored is not None
    assert_capped(stored.agent_results[1].error_message, starts="RuntimeError: BBBB")
    served = api.get(f"/api/v1/matches/{match_id}/logs", headers=owner.headers).json["logs"]
    assert_capped(next(e for e in served if e["agentId"] == second)["errorMessage"], starts="RuntimeError: BBBB")
    assert CUT_MARKER in next(e for e in served if e["agentId"] == second)["errorMessage"]
    finished = next(e for e in published.events if e["type"] == "dev.rlarena.match.finished")
    errors = [r.get("errorMessage") for r in (finished.get_data() or {})["agentResults"]]
    assert_capped(next(e for e in errors if e), starts="RuntimeError: BBBB")


def test_a_validation_build_failing_with_a_300k_error_is_stored_and_served_capped(
    api: ApiClient, platform: Platform, owner: User, agent_id: str
) -> None:
    created = upload(api, owner, agent_id, "agent.py", RAISES_HUGE.encode())
    assert created.status_code == 201, created.json
    build_queue.run_queue(platform)  # the local builder: the sandboxed probe, then the validation match

    submission_id = created.json["submission"]["id"]
    failed = api.get(f"/api/v1/submissions/{submission_id}", headers=owner.headers).json["submission"]
    assert failed["status"] == "failed"
    assert_capped(failed["errorMessage"], starts="the validation match failed (ERROR): RuntimeError: AAAA")
    logs = api.get(f"/api/v1/submissions/{submission_id}/build-logs", headers=owner.headers).json
    assert f"raising an error of {HUGE_ERROR} characters" in logs["buildLog"]  # the attack ran
    status = api.get(f"/api/v1/submissions/{submission_id}/build-status", headers=owner.headers).json
    assert all(len(entry.get("message") or "") <= ERROR_TEXT_CAP for entry in status["history"])


def test_every_other_way_an_error_is_stored_is_capped_too(
    api: ApiClient, platform: Platform, owner: User, agent_id: str, published: RecordingPublisher
) -> None:
    huge = "E" * HUGE_ERROR
    # A build that ends with a huge error (a validation Job's message, say).
    view = submissions.submit_upload(platform, uuid.UUID(owner.id), uuid.UUID(agent_id), "agent.py", AGENT)
    ticket = builds.claim_next(platform)
    assert ticket is not None and ticket.submission_id == view.submission.id
    builds.finish_build(platform, ticket, BuildOutcome(ok=False, log="log", error=huge))
    failed = api.get(f"/api/v1/submissions/{ticket.submission_id}", headers=owner.headers).json["submission"]
    assert_capped(failed["errorMessage"], starts="EEEE")
    assert CUT_MARKER in failed["errorMessage"]
    status = api.get(f"/api/v1/submissions/{ticket.submission_id}/build-status", headers=owner.headers).json
    assert all(len(entry.get("message") or "") <= ERROR_TEXT_CAP for entry in status["history"])
    build_failed = next(e for e in published.events if e["type"] == "dev.rlarena.build.failed")
    assert_capped((build_failed.get_data() or {})["errorMessage"], starts="EEEE")

    # A match failed with a huge reason (as an executor may announce it).
    match_id, _, _ = booked_match(api, platform, owner)
    assert match_lifecycle.fail_match(platform, uuid.UUID(match_id), huge, announce=True)
    assert_capped(api.get(f"/api/v1/matches/{match_id}").json["match"]["errorMessage"], starts="EEEE")
    match_failed = next(e for e in published.events if e["type"] == "dev.rlarena.match.failed")
    assert_capped((match_failed.get_data() or {})["errorMessage"], starts="EEEE")

    # And a bulk UPDATE that bypasses every service: the column itself caps what it stores.
    with platform.uow() as uow:
        uow.session.execute(update(Match).where(Match.id == uuid.UUID(match_id)).values(error_message=huge))
        uow.commit()
    with platform.uow() as uow:
        stored = uow.session.scalar(select(Match.error_message).where(Match.id == uuid.UUID(match_id)))
    assert_capped(stored, starts="EEEE")
