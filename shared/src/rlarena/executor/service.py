"""The executor's use cases: run matches a few at a time, once each, and announce the results.

Transport-free (the gRPC server in `grpc_server.py` is a thin mapping onto this), so it is tested
without sockets. A match id that already ran returns the stored result instead of running again;
a match id that is running is joined, not started twice.

A result is durable before it is announced: the replay and `result.json` are stored (with a few
retries) first, and only then is match.finished or match.failed published, so the stored result
is the source of truth a reconciler can rebuild the announcement from. What cannot be stored or
published yet waits in the spool (`executor/spool.py`, on local disk) and a flusher thread keeps
trying, backing off, until storage and the broker take it; a restarted executor carries on with
what its spool holds. On shutdown, matches still running after the grace period end as a stored
ERROR result ("the executor stopped before the game finished"), announced as failed.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rlarena.adapters.storage.base import ObjectStore
from rlarena.domain.match_keys import replay_key, result_key
from rlarena.domain.texts import cap_text
from rlarena.errors import InvalidInput, NotFound, ServiceUnavailable
from rlarena.events.catalogue import (
    EventType,
    MatchFailed,
    MatchStarted,
    Source,
    make_event,
)
from rlarena.events.match_results import finished_payload
from rlarena.events.publisher import Publisher
from rlarena.executor.spool import PendingResult, ResultSpool

log = logging.getLogger(__name__)

STOPPED_MID_GAME = "the executor stopped before the game finished"
# Storing a result: the first attempt and a retry after each of these delays (seconds), a few
# seconds in all, before the result goes to the spool and the flusher takes over.
STORE_RETRY_DELAYS = (0.5, 1.0, 2.0)
# ...but no retry starts once this many seconds have gone by (a hanging store makes each attempt slow).
STORE_RETRY_BUDGET = 10.0
# The flusher's pause between passes over the spool while something in it still fails: doubling
# from the first to the last.
FLUSH_FIRST_DELAY = 1.0
FLUSH_MAX_DELAY = 15.0
# After the grace period: how long matches already storing their result get to finish doing so.
SETTLE_TIMEOUT = 10.0


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
    # Where `logs` stood at the end of each replay frame's turn (AgentResult.stderr_offsets); empty
    # in results stored before it was recorded.
    log_offsets: list[int] = field(default_factory=list)


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
    finished_at: str = ""  # ISO 8601, UTC; "" in results stored before it was recorded
    # Why the game ended, as the runner says it ("checkmate", "TIMEOUT by <agent id>: ..."); ""
    # in results stored before it was recorded.
    outcome_reason: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MatchReport:
        """A stored result.json, older ones (without `finished_at`) and newer ones (extra keys) too."""
        known = {f.name for f in fields(cls)} - {"agent_results"}
        outcome_fields = {f.name for f in fields(AgentOutcome)}
        results = [
            AgentOutcome(**{k: v for k, v in r.items() if k in outcome_fields}) for r in data.get("agent_results", [])
        ]
        return cls(agent_results=results, **{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Played:
    """What a runner returns: the report and, if recorded, the replay document."""

    report: MatchReport
    replay: dict[str, Any] | None


Runner = Callable[[MatchOrder], Played]


class ExecutorService:
    def __init__(
        self,
        run: Runner,
        publisher: Publisher,
        store: ObjectStore,
        *,
        max_concurrent: int,
        version: str,
        spool: ResultSpool | None = None,
        store_retry_delays: Sequence[float] = STORE_RETRY_DELAYS,
        flush_delays: tuple[float, float] = (FLUSH_FIRST_DELAY, FLUSH_MAX_DELAY),
    ) -> None:
        self._run = run
        self._publisher = publisher
        self._store = store
        self._spool = spool if spool is not None else ResultSpool(None)
        self._store_retry_delays = tuple(store_retry_delays)
        self._flush_delays = flush_delays
        self._pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="match")
        self._max = max_concurrent
        self._version = version
        # Reentrant: a pool that runs a match inline (tests) calls _play while submit holds it.
        self._lock = threading.RLock()
        self._running: dict[str, Future[MatchReport]] = {}
        self._orders: dict[str, MatchOrder] = {}
        self._settling: set[str] = set()  # played (or failed), now being stored and announced
        self._abandoned: dict[str, MatchReport] = {}  # ended by shutdown while still playing
        self._in_flight: set[str] = set()  # in the spool, being stored and announced by their own thread
        self._accepting = True
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._flusher: threading.Thread | None = None

    # -- use cases ---------------------------------------------------------------------------

    def start(self) -> int:
        """Carry on with what the spool holds from an earlier run; returns how many it holds.

        Results are stored now, before the executor serves (a platform that reconciles open
        matches at start finds them); announcements go out from the flusher thread, since the
        broker may not be up yet.
        """
        held = len(self._spool)
        if held:
            self._flush_pass(publish=False)
            log.warning("recovered %d spooled result(s); %d still to store or announce", held, len(self._spool))
        self._ensure_flusher()
        return held

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
                self._orders[order.match_id] = order
        if started:
            # Outside the lock: a future that is already done runs the callback right here, and
            # the callback takes the lock (holding it here deadlocked on a match that ended at once).
            future.add_done_callback(functools.partial(self._forget, order.match_id))
        return future.result() if wait else None

    def stored_result(self, match_id: str) -> MatchReport | None:
        """The match's result if it ran: from the spool (not stored yet) or the object store."""
        pending = self._spool.get(match_id)
        if pending is not None:
            return MatchReport.from_json(pending.result)
        try:
            data = json.loads(self._store.get(result_key(match_id)))
        except NotFound:
            return None
        return MatchReport.from_json(data)

    def health(self) -> tuple[int, int, str]:
        with self._lock:
            return len(self._running), self._max, self._version

    def pending_results(self) -> int:
        """How many results wait in the spool to be stored or announced."""
        return len(self._spool)

    def shutdown(self, grace_seconds: float, *, hurry: threading.Event | None = None) -> bool:
        """Stop accepting; let running matches finish within the grace period (they store and
        announce their results); end the others as a stored ERROR announced as failed; flush the
        spool as far as storage and the broker allow. `hurry` (set by a second signal) ends the
        grace at once. Returns True if no match is still playing (else their threads still run:
        the caller exits the process, which ends their sandboxes)."""
        deadline = time.monotonic() + max(0.0, grace_seconds)
        with self._lock:
            self._accepting = False
        while True:
            with self._lock:
                playing = [f for f in self._running.values() if not f.done()]
            if not playing or time.monotonic() >= deadline or (hurry is not None and hurry.is_set()):
                break
            time.sleep(0.05)
        with self._lock:
            cut = [
                self._orders[match_id]
                for match_id, future in self._running.items()
                if not future.done() and match_id not in self._settling and match_id not in self._abandoned
            ]
            for order in cut:
                self._running[order.match_id].cancel()  # one still queued never starts now
            now = _now_iso()
            for order in cut:
                self._abandoned[order.match_id] = MatchReport(
                    match_id=order.match_id,
                    status="ERROR",
                    winner_agent_id="",
                    error_message=STOPPED_MID_GAME,
                    finished_at=now,
                )
            settling = [self._running[m] for m in self._settling if m in self._running]
        if cut:
            log.warning("%d match(es) still playing after the %g s grace: ending them", len(cut), grace_seconds)
        storage_up = True
        for order in cut:
            # One attempt each (no retries while stopping); once storage has failed, straight to the spool.
            self._settle(order.environment, self._abandoned[order.match_id], None, retry=False, try_store=storage_up)
            spooled = self._spool.get(order.match_id)
            storage_up = spooled is None or spooled.stored
        settle_deadline = time.monotonic() + SETTLE_TIMEOUT
        for future in settling:  # results being stored right now: they spool if storage fails
            try:
                future.result(timeout=max(0.0, settle_deadline - time.monotonic()))
            except Exception:  # logged where it happened; shutdown goes on
                log.warning("a match did not finish storing its result before shutdown")
        self._stop_flusher()
        left = self._flush_pass(publish=True)
        if left:
            log.warning("%d result(s) left in the spool %s for the next start", left, self._spool.folder)
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            return not any(not f.done() for f in self._running.values())

    # -- the work ----------------------------------------------------------------------------

    def _play(self, order: MatchOrder) -> MatchReport:
        started = datetime.now(UTC)
        self._announce_start(order, started)
        replay: dict[str, Any] | None = None
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
        else:
            report = _capped(played.report)  # stored, announced and served with errors capped
            replay = played.replay
        with self._lock:
            abandoned = self._abandoned.get(order.match_id)
            if abandoned is None:
                self._settling.add(order.match_id)
        if abandoned is not None:
            # Shutdown already ended this match as an ERROR (stored and announced): the game's own
            # result, which came too late, must not contradict it.
            log.warning("match %s finished after the executor ended it; its result is dropped", order.match_id)
            return abandoned
        try:
            return self._settle(order.environment, report, replay)
        finally:
            with self._lock:
                self._settling.discard(order.match_id)

    def _settle(
        self,
        environment: str,
        report: MatchReport,
        replay: dict[str, Any] | None,
        *,
        retry: bool = True,
        try_store: bool = True,
    ) -> MatchReport:
        """Store the result (and replay), then announce it; whatever fails waits in the spool.

        The result goes to the spool first (write-ahead, one local file): from the moment the game
        is over it survives the executor being killed while storage or the broker is retried.
        """
        if replay is not None:
            report = replace(report, replay_url=replay_key(report.match_id))
        if not report.finished_at:
            report = replace(report, finished_at=_now_iso())
        pending = PendingResult(report.match_id, environment, asdict(report), replay, stored=False)
        with self._lock:
            self._in_flight.add(pending.match_id)  # the flusher leaves it to this thread
        try:
            on_disk = self._spool.keep(pending)
            if not (try_store and self._store_outcome(pending, retry=retry)):
                self._left_in_spool(pending, on_disk)
            elif self._announce(pending):
                self._spool.remove(pending.match_id)
            else:
                self._spool.mark_stored(pending.match_id)
                self._left_in_spool(replace(pending, stored=True), on_disk)
        finally:
            with self._lock:
                self._in_flight.discard(pending.match_id)
        return report

    def _store_outcome(self, pending: PendingResult, *, retry: bool) -> bool:
        delays = (0.0, *self._store_retry_delays) if retry else (0.0,)
        started = time.monotonic()
        for attempt, delay in enumerate(delays):
            if attempt and time.monotonic() - started + delay > STORE_RETRY_BUDGET:
                break
            if delay:
                time.sleep(delay)
            try:
                self._put(pending)
            except Exception as error:  # any failure: retry, then spool
                log.warning(
                    "could not store the result of match %s (attempt %d of %d): %s",
                    pending.match_id,
                    attempt + 1,
                    len(delays),
                    getattr(error, "message", None) or repr(error),
                )
            else:
                return True
        return False

    def _put(self, pending: PendingResult) -> None:
        """The replay first, then the result: a stored result means its replay is there too."""
        if pending.replay is not None:
            self._store.put(
                replay_key(pending.match_id), json.dumps(pending.replay).encode(), content_type="application/json"
            )
        self._store.put(
            result_key(pending.match_id), json.dumps(pending.result).encode(), content_type="application/json"
        )

    def _announce(self, pending: PendingResult) -> bool:
        """match.finished (a SUCCESS) or match.failed, built from the stored result; False if not sent."""
        result = pending.result
        match_id = uuid.UUID(pending.match_id)
        if result.get("status") == "SUCCESS":
            payload: Any = finished_payload(match_id, pending.environment, result)
            event = make_event(
                EventType.MATCH_FINISHED, Source.EXECUTOR, payload, event_id=f"match-finished-{pending.match_id}"
            )
        else:
            reason = str(result.get("error_message") or result.get("status") or "ERROR")
            payload = MatchFailed(match_id=match_id, environment_id=pending.environment, error_message=reason)
            event = make_event(
                EventType.MATCH_FAILED, Source.EXECUTOR, payload, event_id=f"match-failed-{pending.match_id}"
            )
        return self._publish(event)

    def _left_in_spool(self, pending: PendingResult, on_disk: bool) -> None:
        log.warning(
            "match %s: result %s; it waits in the spool%s and is retried",
            pending.match_id,
            "stored, not announced yet" if pending.stored else "not stored yet",
            "" if on_disk else " (in memory only)",
        )
        self._ensure_flusher()
        self._wake.set()

    # -- the flusher -------------------------------------------------------------------------

    def _ensure_flusher(self) -> None:
        with self._lock:
            if self._flusher is not None or self._closed.is_set():
                return
            self._flusher = threading.Thread(target=self._flush_forever, name="result-spool", daemon=True)
            self._flusher.start()

    def _stop_flusher(self) -> None:
        self._closed.set()
        self._wake.set()
        with self._lock:
            flusher = self._flusher
        if flusher is not None:
            flusher.join(timeout=SETTLE_TIMEOUT)

    def _flush_forever(self) -> None:
        first, most = self._flush_delays
        delay = first
        while not self._closed.is_set():
            self._wake.clear()
            try:
                left = self._flush_pass(publish=True)
            except Exception:  # the flusher must outlive any surprise
                log.exception("the result spool's flusher failed; it goes on")
                left = len(self._spool)
            if self._closed.is_set():
                return
            if not left:
                delay = first
                self._wake.wait()
            else:
                self._wake.wait(delay)
                delay = min(delay * 2, most)

    def _flush_pass(self, *, publish: bool) -> int:
        """One try for everything in the spool; returns how many entries are left.

        After the first storage failure nothing more is stored in this pass (storage is down;
        each attempt would wait for it again), likewise for the broker.
        """
        storage_up = broker_up = True
        for pending in sorted(self._spool.entries(), key=lambda p: str(p.result.get("finished_at", ""))):
            with self._lock:
                if pending.match_id in self._in_flight:
                    continue
            if not pending.stored:
                if not storage_up:
                    continue
                if not self._store_outcome(pending, retry=False):
                    storage_up = False
                    continue
                log.info("match %s: the spooled result is stored", pending.match_id)
                self._spool.mark_stored(pending.match_id)
            if not publish or not broker_up:
                continue
            if self._announce(pending):
                log.info("match %s: the spooled result is announced", pending.match_id)
                self._spool.remove(pending.match_id)
            else:
                broker_up = False
        return len(self._spool)

    # -- bookkeeping and events ----------------------------------------------------------------

    def _forget(self, match_id: str, done: Future[MatchReport]) -> None:
        with self._lock:
            if self._running.get(match_id) is done:  # never a later run of the same id
                del self._running[match_id]
                self._orders.pop(match_id, None)

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

    def _publish(self, event: Any) -> bool:
        try:
            self._publisher.publish(event)
        except Exception:  # a result's announcement waits in the spool, retried
            log.warning("could not publish %s %s; it will be retried", event["type"], event["id"], exc_info=True)
            return False
        return True


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _capped(report: MatchReport) -> MatchReport:
    """Every error cut to ERROR_TEXT_CAP, whichever runner reported it: an agent's quotes its exception."""
    results = [replace(result, error_message=cap_text(result.error_message)) for result in report.agent_results]
    return replace(
        report,
        agent_results=results,
        error_message=cap_text(report.error_message),
        outcome_reason=cap_text(report.outcome_reason),
    )


def _check(order: MatchOrder) -> None:
    try:
        uuid.UUID(order.match_id)
        for agent in order.agents:
            uuid.UUID(agent.agent_id)
    except ValueError:
        raise InvalidInput("match_id and every agent_id must be UUIDs") from None
    if len(order.agents) != 2:
        raise InvalidInput("a match needs exactly two agents")
