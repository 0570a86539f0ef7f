"""The executor's use cases: run matches a few at a time, once each, and announce the results.

Transport-free (the gRPC server in `grpc_server.py` is a thin mapping onto this), so it is tested
without sockets. A match id that already ran returns the stored result instead of running again;
a match id that is running is joined, not started twice.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rlarena.adapters.storage.base import ObjectStore
from rlarena.domain.texts import cap_text
from rlarena.errors import InvalidInput, NotFound, ServiceUnavailable
from rlarena.events.catalogue import (
    AgentResult,
    EventType,
    MatchFailed,
    MatchFinished,
    MatchStarted,
    Source,
    make_event,
)
from rlarena.events.publisher import Publisher

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgentEntry:
    agent_id: str
    folder: Path
    entry_point: str


@dataclass(frozen=True)
class MatchOrder:
    match_id: str
    environment: str
    agents: tuple[AgentEntry, AgentEntry]
    seed: int
    record_replay: bool = True


@dataclass(frozen=True)
class AgentOutcome:
    agent_id: str
    score: float
    status: str  # OK, ERROR, TIMEOUT, INVALID
    error_message: str = ""
    logs: str = ""


@dataclass(frozen=True)
class MatchReport:
    match_id: str
    status: str  # SUCCESS, ERROR (the platform failed), CANCELLED
    winner_agent_id: str  # "" = draw
    agent_results: list[AgentOutcome] = field(default_factory=list)
    total_steps: int = 0
    execution_time_sec: float = 0.0
    replay_url: str = ""
    error_message: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MatchReport:
        results = [AgentOutcome(**r) for r in data.pop("agent_results", [])]
        return cls(agent_results=results, **data)


@dataclass(frozen=True)
class Played:
    """What a runner returns: the report and, if recorded, the replay document."""

    report: MatchReport
    replay: dict[str, Any] | None


Runner = Callable[[MatchOrder], Played]


def result_key(match_id: str) -> str:
    return f"matches/{match_id}/result.json"


def replay_key(match_id: str) -> str:
    return f"replays/{match_id}.json"


class ExecutorService:
    def __init__(
        self, run: Runner, publisher: Publisher, store: ObjectStore, *, max_concurrent: int, version: str
    ) -> None:
        self._run = run
        self._publisher = publisher
        self._store = store
        self._pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="match")
        self._max = max_concurrent
        self._version = version
        self._lock = threading.Lock()
        self._running: dict[str, Future[MatchReport]] = {}
        self._accepting = True

    # -- use cases ---------------------------------------------------------------------------

    def submit(self, order: MatchOrder, *, wait: bool) -> MatchReport | None:
        """Run (wait=True) or start (wait=False, returns None) a match; a known id is not rerun."""
        _check(order)
        stored = self.stored_result(order.match_id)
        if stored is not None:
            return stored
        with self._lock:
            if not self._accepting:
                raise ServiceUnavailable("the executor is shutting down; retry on another replica")
            future = self._running.get(order.match_id)
            started = future is None
            if future is None:
                future = self._pool.submit(self._play, order)
                self._running[order.match_id] = future
        if started:
            # Outside the lock: a future that is already done runs the callback right here, and
            # the callback takes the lock (holding it here deadlocked on a match that ended at once).
            future.add_done_callback(functools.partial(self._forget, order.match_id))
        return future.result() if wait else None

    def stored_result(self, match_id: str) -> MatchReport | None:
        try:
            data = json.loads(self._store.get(result_key(match_id)))
        except NotFound:
            return None
        return MatchReport.from_json(data)

    def health(self) -> tuple[int, int, str]:
        with self._lock:
            return len(self._running), self._max, self._version

    def shutdown(self, grace_seconds: float) -> None:
        """Stop accepting, let running matches finish within the grace period (they publish)."""
        with self._lock:
            self._accepting = False
            running = list(self._running.values())
        for future in running:
            try:
                future.result(timeout=grace_seconds)
            except Exception:  # logged in _play; shutdown goes on
                log.warning("a match did not finish before shutdown")
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- the work ----------------------------------------------------------------------------

    def _play(self, order: MatchOrder) -> MatchReport:
        started = datetime.now(UTC)
        self._announce_start(order, started)
        try:
            played = self._run(order)
        except Exception as error:
            log.exception("match %s failed inside the executor", order.match_id)
            report = MatchReport(
                match_id=order.match_id,
                status="ERROR",
                winner_agent_id="",
                error_message=f"the executor failed: {type(error).__name__}",
            )
            self._announce_failure(order, report.error_message)
            return report
        report = _capped(played.report)  # stored, announced and served with errors capped
        if played.replay is not None:
            self._store.put(
                replay_key(order.match_id), json.dumps(played.replay).encode(), content_type="application/json"
            )
            report = replace(report, replay_url=replay_key(order.match_id))
        self._store.put(
            result_key(order.match_id), json.dumps(asdict(report)).encode(), content_type="application/json"
        )
        if report.status == "SUCCESS":
            self._announce_finish(order, report)
        else:
            self._announce_failure(order, report.error_message or report.status)
        return report

    def _forget(self, match_id: str, done: Future[MatchReport]) -> None:
        with self._lock:
            if self._running.get(match_id) is done:  # never a later run of the same id
                del self._running[match_id]

    def _announce_start(self, order: MatchOrder, started: datetime) -> None:
        payload = MatchStarted(
            match_id=uuid.UUID(order.match_id),
            environment_id=order.environment,
            agent1_id=uuid.UUID(order.agents[0].agent_id),
            agent2_id=uuid.UUID(order.agents[1].agent_id),
            started_at=started,
        )
        self._publish(
            make_event(EventType.MATCH_STARTED, Source.EXECUTOR, payload, event_id=f"match-started-{order.match_id}")
        )

    def _announce_finish(self, order: MatchOrder, report: MatchReport) -> None:
        payload = MatchFinished(
            match_id=uuid.UUID(order.match_id),
            environment_id=order.environment,
            winner_id=uuid.UUID(report.winner_agent_id) if report.winner_agent_id else None,
            agent_results=[
                AgentResult(
                    agent_id=uuid.UUID(r.agent_id),
                    score=r.score,
                    status=r.status,
                    error_message=r.error_message or None,
                )
                for r in report.agent_results
            ],
            total_steps=report.total_steps,
            replay_url=report.replay_url or None,
            finished_at=datetime.now(UTC),
        )
        self._publish(
            make_event(EventType.MATCH_FINISHED, Source.EXECUTOR, payload, event_id=f"match-finished-{order.match_id}")
        )

    def _announce_failure(self, order: MatchOrder, reason: str) -> None:
        payload = MatchFailed(
            match_id=uuid.UUID(order.match_id), environment_id=order.environment, error_message=reason
        )
        self._publish(
            make_event(EventType.MATCH_FAILED, Source.EXECUTOR, payload, event_id=f"match-failed-{order.match_id}")
        )

    def _publish(self, event: Any) -> None:
        try:
            self._publisher.publish(event)
        except Exception:  # the result is stored; a lost announcement is recovered by the reaper
            log.exception("could not publish %s for a match", event["type"])


def _capped(report: MatchReport) -> MatchReport:
    """Every error cut to ERROR_TEXT_CAP, whichever runner reported it: an agent's quotes its exception."""
    results = [replace(result, error_message=cap_text(result.error_message)) for result in report.agent_results]
    return replace(report, agent_results=results, error_message=cap_text(report.error_message))


def _check(order: MatchOrder) -> None:
    try:
        uuid.UUID(order.match_id)
        for agent in order.agents:
            uuid.UUID(agent.agent_id)
    except ValueError:
        raise InvalidInput("match_id and every agent_id must be UUIDs") from None
    if len(order.agents) != 2:
        raise InvalidInput("a match needs exactly two agents")
