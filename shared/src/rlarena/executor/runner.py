"""Play one match between sandboxed agents and report it with a replay.

Each agent runs as its own `SandboxSession` (`python -I -m rlarena.agent_runtime.serve`) in a
private working folder holding a copy of its code only, so agents cannot read each other's files
through their folders; or, given `warm` (rlarena.executor.warm_agents), as a forked copy of its
warm sandbox (`rlarena.sandbox.forked.ForkedSession`, the same frames), started cold whenever the
warm sandbox cannot serve. The runner then drives the environment (`rlarena.environments.base`):

- start-up: both agents load concurrently; each must send its ready frame within
  `startup_timeout_s`;
- moves: every player in `to_act()` is sent its observation at once and has `move_timeout_s`
  plus what is left of its own overage bank (Kaggle style: time beyond `move_timeout_s` is
  charged to the bank, banked over the match); the deadline is enforced while waiting. Each
  player's clock is its own: how fast the other one moves never costs it time;
- the match wall clock (`match_timeout_s`, from the start of start-up) is only a safety net
  against a hanging platform. By default it is derived from the limits
  (`rlarena.environments.clocks`) so that a game whose every move keeps within its limits never
  reaches it; a game that reaches it all the same ends as a draw, its reason naming the wall
  clock, and no player's status is TIMEOUT for it.

An agent that crashes (exits, closes its pipes, reports an exception), runs out of time, sends
a malformed frame or plays an illegal or non-integer action (in chess a UCI string such as
"e2e4" is read as the action it names) loses: its status is ERROR, TIMEOUT
or INVALID with a reason, and the other agent wins; the outcome reason names the kind and the
agent ("TIMEOUT by <agent id>: no action within ..."). When every player failing in a step fails,
the match is a draw (scores 0.5) with all their statuses recorded. Agent misbehaviour never
raises; the platform's own failures (the sandbox cannot start, the environment breaks) give a
result with status "ERROR". Every process is killed and every working folder removed at the end.

Replay: `{"metadata": {...}, "frames": [...], "version": 1}`. Frame 0 is the position after
`reset` (actions all None); frame n follows step n, so a finished game has `total_steps + 1`
frames. A step an agent failed is not played, so it adds no frame. `actions` and `rewards` are
per player, None for a player who did not act. `info` is `env.frame()`. For chess the
observations drop the 8x8x111 planes and the 4672-entry mask (~35 KB a ply) and keep the rest
(fen, legal moves): `info` already draws the board.
"""

from __future__ import annotations

import contextlib
import math
import select
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlarena.domain.end_reasons import first_line
from rlarena.environments import registry
from rlarena.environments.base import Environment, EnvironmentSpec, IllegalAction
from rlarena.environments.clocks import safety_wall_clock_s
from rlarena.sandbox import staging
from rlarena.sandbox.forked import ForkedSession
from rlarena.sandbox.installed_packages import packages_of
from rlarena.sandbox.process import GiB, MiB, Mount, SandboxLimits, require_readable_tree
from rlarena.sandbox.runtime_install import AgentRuntime
from rlarena.sandbox.session import NO_FRAME, FrameChannel, SandboxSession, SessionError, poll_ms

if TYPE_CHECKING:
    from rlarena.executor.warm_agents import WarmAgents

OK, ERROR, TIMEOUT, INVALID = "OK", "ERROR", "TIMEOUT", "INVALID"
# Not an agent status: a wait cut short by the match wall clock rather than the player's own clock.
_WALL_CLOCK = "WALL_CLOCK"
MATCH_SUCCESS, MATCH_ERROR = "SUCCESS", "ERROR"
SERVE_MODULE = "rlarena.agent_runtime.serve"
# An agent's error message (with its traceback) is kept to this many characters, as its logs are.
ERROR_TEXT_CAP = 10_000
# Observation keys too bulky to repeat in every replay frame, per environment (see docstring).
_TRIMMED_OBSERVATION_KEYS: Mapping[str, tuple[str, ...]] = {"chess": ("observation", "action_mask")}
_AGENT_FOLDER = "agent"
_READABLE = select.POLLIN | select.POLLHUP | select.POLLERR
# The seam for agents that already run elsewhere (a match Pod's containers, see
# rlarena.executor.pod_runner): given the start-up deadline, one connected channel per player.
Connect = Callable[[float], Sequence[FrameChannel]]


@dataclass(frozen=True)
class AgentSpec:
    agent_id: str
    folder: Path  # the agent's code; copied, never run in place
    entry_point: str  # relative to folder, e.g. "main.py"


@dataclass(frozen=True)
class MatchLimits:
    """Time limits (from the environment's spec unless overridden) and per-agent sandbox limits.

    `match_timeout_s`, unless given, is the safety wall clock derived from the other limits (as
    the spec's is), so overriding the per-move limit or the bank keeps it out of the players' way.
    Sandbox limits are per process (see rlarena.sandbox.process): `cpu_seconds` is the agent's
    CPU budget for the whole match, since one process serves every move."""

    move_timeout_s: float
    overage_s: float
    startup_timeout_s: float
    match_timeout_s: float
    memory_bytes: int = 2 * GiB
    cpu_seconds: int | None = None  # None: the match wall clock, rounded up
    max_processes: int = 64
    max_file_bytes: int = 16 * MiB
    stderr_cap_chars: int = 10_000  # as Kaggle keeps of an agent's logs

    @classmethod
    def from_spec(cls, spec: EnvironmentSpec, **overrides: Any) -> MatchLimits:
        values: dict[str, Any] = {
            "move_timeout_s": spec.move_timeout_s,
            "overage_s": spec.overage_s,
            "startup_timeout_s": spec.startup_timeout_s,
        }
        values.update(overrides)
        if "match_timeout_s" not in values:
            values["match_timeout_s"] = safety_wall_clock_s(
                startup_timeout_s=values["startup_timeout_s"],
                move_timeout_s=values["move_timeout_s"],
                overage_s=values["overage_s"],
                max_steps=spec.max_steps,
                players=spec.players,
            )
        return cls(**values)

    def sandbox(self) -> SandboxLimits:
        return SandboxLimits(
            wall_seconds=self.match_timeout_s,  # not enforced by sessions; the runner is the clock
            cpu_seconds=self.cpu_seconds or math.ceil(self.match_timeout_s),
            memory_bytes=self.memory_bytes,
            max_file_bytes=self.max_file_bytes,
            max_processes=self.max_processes,
            network=False,
        )


@dataclass
class AgentResult:
    agent_id: str
    score: float = 0.0
    status: str = OK
    error_message: str = ""
    stderr: str = ""
    # Where `stderr` stood at the end of each replay frame's turn, in characters: frame 0's is after
    # start-up, frame n's once the actions of step n arrived. Lines starting before stderr_offsets[n]
    # (and not before stderr_offsets[n - 1]) were printed for frame n; see rlarena.domain.log_lines.
    stderr_offsets: list[int] = field(default_factory=list)
    move_times: list[float] = field(default_factory=list)  # seconds per answered request


@dataclass
class MatchResult:
    status: str  # MATCH_SUCCESS, or MATCH_ERROR when the platform failed
    winner_agent_id: str  # "" for a draw (and for a platform error)
    agent_results: list[AgentResult]
    total_steps: int
    execution_time_sec: float
    seed: int
    replay: dict[str, Any] | None
    outcome_reason: str = ""  # "three in a row", "TIMEOUT by b: no action within 2 s ...", ...
    error_message: str = ""  # the platform's error, when status is MATCH_ERROR


@dataclass(frozen=True)
class _Failure:
    status: str
    message: str


def run_match(
    environment_id: str,
    agents: list[AgentSpec],
    seed: int,
    runtime: AgentRuntime | None,
    *,
    record_replay: bool = True,
    limits: MatchLimits | None = None,
    match_id: str | None = None,
    connect: Connect | None = None,
    warm: WarmAgents | None = None,
) -> MatchResult:
    """Play `agents` (player 0, player 1) at `environment_id`; see the module docstring.

    With `connect` the agents are already running and only reached (their folders and `runtime`
    go unused); without it `runtime` is required. With `warm` each agent is a forked copy of its
    warm sandbox when it can be (rlarena.executor.warm_agents), else started cold."""
    match = _Match(
        environment_id=environment_id,
        agents=agents,
        seed=seed,
        runtime=runtime,
        record_replay=record_replay,
        limits=limits,
        match_id=match_id or uuid.uuid4().hex,
        connect=connect,
        warm=warm,
    )
    return match.play()


class _Match:
    def __init__(
        self,
        *,
        environment_id: str,
        agents: list[AgentSpec],
        seed: int,
        runtime: AgentRuntime | None,
        record_replay: bool,
        limits: MatchLimits | None,
        match_id: str,
        connect: Connect | None = None,
        warm: WarmAgents | None = None,
    ) -> None:
        self.spec = registry.spec_of(environment_id)  # an unknown id is the caller's error: raise
        if len(agents) != self.spec.players:
            raise ValueError(f"{self.spec.id} needs {self.spec.players} agents, got {len(agents)}")
        self.agents = agents
        self.seed = seed
        self.runtime = runtime
        self.record_replay = record_replay
        self.limits = limits or MatchLimits.from_spec(self.spec)
        self.match_id = match_id
        self.connect = connect
        self.warm = warm
        self.results = [AgentResult(agent.agent_id) for agent in agents]
        self.sessions: list[FrameChannel] = []
        self.folders: list[Path] = []
        self.frames: list[dict[str, Any]] = []
        self.overage = [self.limits.overage_s for _ in agents]
        self.steps = 0
        self.marks: list[list[int]] = [[] for _ in agents]  # stderr positions, one per frame
        self._observed: dict[int, dict[str, Any]] = {}  # this step's observations, built once
        self._configurations: dict[int, dict[str, Any]] = {}  # each player's, but for the step

    def play(self) -> MatchResult:
        started_at = datetime.now(UTC)
        self.started = time.monotonic()
        self.deadline = self.started + self.limits.match_timeout_s
        status, winner, reason, error = MATCH_SUCCESS, "", "", ""
        try:
            env = registry.create(self.spec.id)
            env.reset(self.seed)
            self._record(env, [None] * len(self.agents))
            failures = self._start_agents()
            self._mark_stderr()
            if not failures:
                failures = self._play_moves(env)
            winner, reason = self._judge(env, failures)
        except Exception as problem:  # the platform's fault (sandbox, environment): report it
            status, winner, reason = MATCH_ERROR, "", "platform error"
            error = f"{type(problem).__name__}: {problem}"
            for result in self.results:
                result.score = 0.0
        finally:
            self._tear_down()
        elapsed = time.monotonic() - self.started
        replay = None
        if self.record_replay:
            replay = {
                "metadata": {
                    "match_id": self.match_id,
                    "environment": self.spec.versioned_id,
                    "agents": [agent.agent_id for agent in self.agents],
                    "start_time": started_at.isoformat(),
                    "end_time": datetime.now(UTC).isoformat(),
                    "total_steps": self.steps,
                    "winner": winner,
                    "status": status,
                    "end_reason": reason,
                    "agent_statuses": [result.status for result in self.results],
                    "seed": self.seed,
                },
                "frames": self.frames,
                "version": 1,
            }
        return MatchResult(
            status=status,
            winner_agent_id=winner,
            agent_results=self.results,
            total_steps=self.steps,
            execution_time_sec=elapsed,
            seed=self.seed,
            replay=replay,
            outcome_reason=reason,
            error_message=error,
        )

    # --- start-up ------------------------------------------------------------------------------

    def _start_agents(self) -> dict[int, _Failure]:
        if self.connect is not None:  # reaching the agents is their start-up
            deadline = min(time.monotonic() + self.limits.startup_timeout_s, self.deadline)
            self.sessions.extend(self.connect(deadline))
        else:
            self._spawn_agents()
            deadline = min(time.monotonic() + self.limits.startup_timeout_s, self.deadline)
        replies = self._await({player: deadline for player in range(len(self.agents))}, "start-up")
        replies.update(self._restart_cold(replies, deadline))
        failures: dict[int, _Failure] = {}
        for player, reply in replies.items():
            if isinstance(reply, _Failure):
                failures[player] = reply
                continue
            frame, _ = reply
            if not isinstance(frame, dict) or frame.get("ok") is not True or frame.get("ready") is not True:
                failures[player] = _agent_error(frame, "the agent could not be loaded")
        return failures

    def _spawn_agents(self) -> None:
        if self.runtime is None:
            raise ValueError("run_match needs a runtime to start the agents itself")
        sandbox = self.limits.sandbox()
        require_readable_tree(self.runtime.path, "agent runtime")
        for player, agent in enumerate(self.agents):
            self.sessions.append(self._warm_session(agent, player, sandbox) or self._cold_session(agent, player))

    def _cold_session(self, agent: AgentSpec, player: int) -> SandboxSession:
        assert self.runtime is not None
        # A fresh read-only copy per agent and match: nothing one match leaves reaches the next.
        code = staging.stage_copy(agent.folder, "match-", _AGENT_FOLDER)
        self.folders.append(code)
        # Its installed requirements (the local builder's cache): read-only, shared, on sys.path.
        packages = packages_of(agent.folder)
        argv = self.runtime.module_argv(SERVE_MODULE, str(code), agent.entry_point, str(player), packages=packages)
        return SandboxSession(
            argv,
            cwd=code,
            limits=self.limits.sandbox(),
            stderr_cap_bytes=self.limits.stderr_cap_chars * 4,
            mounts=[Mount(code), Mount(self.runtime.path), *([Mount(packages)] if packages else [])],
        )

    def _restart_cold(
        self, replies: dict[int, tuple[Any, float] | _Failure], deadline: float
    ) -> dict[int, tuple[Any, float] | _Failure]:
        """Players whose warm sandbox failed to fork their copy, started cold: a broken warm
        sandbox never costs a match."""
        broken = [
            player
            for player, reply in replies.items()
            if isinstance(reply, _Failure)
            and isinstance(session := self.sessions[player], ForkedSession)
            and session.fork_failed()
        ]
        for player in broken:
            with contextlib.suppress(Exception):
                self.sessions[player].kill()
            self.sessions[player] = self._cold_session(self.agents[player], player)
        if not broken:
            return {}
        return self._await(
            {player: max(deadline, time.monotonic() + self.limits.startup_timeout_s) for player in broken}, "start-up"
        )

    def _warm_session(self, agent: AgentSpec, player: int, sandbox: SandboxLimits) -> FrameChannel | None:
        if self.warm is None or self.runtime is None:
            return None
        return self.warm.session(
            agent.folder,
            agent.entry_point,
            player,
            self.runtime,
            sandbox,
            stderr_cap_bytes=self.limits.stderr_cap_chars * 4,
            startup_timeout_s=self.limits.startup_timeout_s,
        )

    # --- the game ------------------------------------------------------------------------------

    def _play_moves(self, env: Environment) -> dict[int, _Failure]:
        while not env.done():
            failures: dict[int, _Failure] = {}
            sent, deadlines = self._send_requests(env, failures)
            actions = self._collect_actions(sent, deadlines, failures)
            for player, sent_action in list(actions.items()):
                action = actions[player] = _read_move(env, sent_action)
                if isinstance(action, _Failure):
                    failures[player] = action
                elif isinstance(action, bool) or not isinstance(action, int):
                    failures[player] = _Failure(INVALID, f"the action {_shown(action)} is not an integer")
                elif action not in env.legal_actions(player):
                    failures[player] = _Failure(INVALID, f"the action {action} is not legal in this position")
            if failures:
                return failures
            try:
                env.step(actions)
            except IllegalAction as illegal:  # a rule the legal list did not capture
                return {illegal.player: _Failure(INVALID, str(illegal))}
            self.steps = env.steps
            self._observed.clear()
            self._record(env, [actions.get(player) for player in range(len(self.agents))])
            self._mark_stderr()
        return {}

    def _send_requests(
        self, env: Environment, failures: dict[int, _Failure]
    ) -> tuple[dict[int, float], dict[int, float]]:
        """Send each player to act its observation; when each was sent and its deadline."""
        sent: dict[int, float] = {}
        deadlines: dict[int, float] = {}
        for player in env.to_act():
            request = {
                "type": "act",
                "observation": self._observation(env, player),
                "configuration": self._configuration(player, env.steps),
                "remaining_overage": self.overage[player],
            }
            start = time.monotonic()
            # Writing counts against the move: a child that stops reading cannot stall the match.
            deadline = min(start + self.limits.move_timeout_s + max(self.overage[player], 0.0), self.deadline)
            try:
                self.sessions[player].send(request, timeout=max(deadline - start, 0.0))
            except TimeoutError:
                failures[player] = self._timeout_failure(player, deadline)
            except SessionError as problem:
                failures[player] = _Failure(ERROR, f"the agent crashed: {problem}")
            else:
                sent[player], deadlines[player] = start, deadline
        return sent, deadlines

    def _collect_actions(
        self, sent: dict[int, float], deadlines: dict[int, float], failures: dict[int, _Failure]
    ) -> dict[int, Any]:
        """The actions that arrived in time, as sent; everything else goes into `failures`."""
        actions: dict[int, Any] = {}
        for player, reply in self._await(deadlines, "move").items():
            if isinstance(reply, _Failure):
                failures[player] = reply
                continue
            frame, arrived = reply
            elapsed = arrived - sent[player]
            self.results[player].move_times.append(elapsed)
            self.overage[player] -= max(elapsed - self.limits.move_timeout_s, 0.0)
            if self.overage[player] < 0:
                failures[player] = _Failure(
                    TIMEOUT,
                    f"its overage bank ran out ({elapsed:.1f} s for this move; {self.limits.move_timeout_s:g} s "
                    f"per move plus {self.limits.overage_s:g} s banked for the match)",
                )
            elif not isinstance(frame, dict) or frame.get("ok") is not True or "action" not in frame:
                failures[player] = _agent_error(frame, "the agent's act raised")
            else:
                actions[player] = frame["action"]
        return actions

    def _observation(self, env: Environment, player: int) -> dict[str, Any]:
        """`env.observation(player)` for the position on the board, built once for the request
        and the replay frame (only ever serialised, never changed)."""
        seen = self._observed.get(player)
        if seen is None:
            seen = self._observed[player] = env.observation(player)
        return seen

    def _configuration(self, player: int, step: int) -> dict[str, Any]:
        # The game's parameters too; what each key means is in environments/guide.py (docs/agents.md).
        base = self._configurations.get(player)
        if base is None:
            from rlarena.environments.guide import configuration

            base = self._configurations[player] = configuration(
                self.spec,
                player=player,
                step=0,
                move_timeout_s=self.limits.move_timeout_s,
                overage_s=self.limits.overage_s,
            )
        return {**base, "step": step}  # the key keeps its place

    def _await(self, deadlines: dict[int, float], stage: str) -> dict[int, tuple[Any, float] | _Failure]:
        """Wait for one frame from each player in `deadlines`, together, so each one's arrival
        time is its own. A frame is (message, arrival time)."""
        replies: dict[int, tuple[Any, float] | _Failure] = {}
        pending = dict(deadlines)
        # poll(2), not a selector: no epoll descriptor to create, fill and close at every move.
        waiter = select.poll()
        players_of = {self.sessions[player].fileno(): player for player in pending}
        for descriptor in players_of:
            waiter.register(descriptor, _READABLE)
        while pending:
            now = time.monotonic()
            for player in list(pending):
                session = self.sessions[player]
                try:
                    frame = session.take_frame()
                except SessionError as problem:
                    replies[player] = _Failure(ERROR, f"the agent crashed during {stage}: {problem}")
                else:
                    if frame is not NO_FRAME:
                        replies[player] = (frame, now)
                    elif now >= pending[player]:
                        replies[player] = self._timeout_failure(player, pending[player], stage)
                if player in replies:
                    del pending[player]
                    waiter.unregister(session.fileno())
            if not pending:
                break
            for descriptor, _ in waiter.poll(poll_ms(min(pending.values()) - time.monotonic())):
                self.sessions[players_of[descriptor]].read_available()
        return replies

    def _timeout_failure(self, player: int, deadline: float, stage: str = "move") -> _Failure:
        session = self.sessions[player]
        if session.exit_status() is not None:  # dead, with a descendant holding its pipe open
            return _Failure(ERROR, f"the agent crashed during {stage} ({session.describe_exit()})")
        if deadline >= self.deadline:  # the safety net, not this player's clock: nobody's loss
            return _Failure(_WALL_CLOCK, f"the match reached its {self.limits.match_timeout_s:g} s wall clock")
        if stage == "start-up":
            return _Failure(TIMEOUT, f"the agent was not ready within {self.limits.startup_timeout_s:g} s")
        return _Failure(
            TIMEOUT,
            f"no action within {self.limits.move_timeout_s:g} s plus its overage bank "
            f"({self.overage[player]:.1f} s left of {self.limits.overage_s:g} s for the match)",
        )

    # --- the end -------------------------------------------------------------------------------

    def _judge(self, env: Environment, failures: dict[int, _Failure]) -> tuple[str, str]:
        """The winner ("" for a draw) and why the game ended; records each failing agent's status."""
        cut = [failure for failure in failures.values() if failure.status == _WALL_CLOCK]
        failures = {player: failure for player, failure in failures.items() if failure.status != _WALL_CLOCK}
        for player, failure in failures.items():
            result = self.results[player]
            result.status, result.error_message = failure.status, failure.message
        if failures:
            blamed = "; ".join(
                f"{failures[p].status} by {self.agents[p].agent_id}: {first_line(failures[p].message)}"
                for p in sorted(failures)
            )
            survivors = [player for player in range(len(self.agents)) if player not in failures]
            if len(survivors) == 1:
                self.results[survivors[0]].score = 1.0
                return self.agents[survivors[0]].agent_id, blamed
            for result in self.results:
                result.score = 0.5
            return "", f"every agent failed in the same step ({blamed})"
        if cut:
            for result in self.results:
                result.score = 0.5
            return "", f"unfinished: {cut[0].message}, though every move was within its limits"
        outcome = env.outcome()
        for result, score in zip(self.results, outcome.scores, strict=True):
            result.score = score
        winner = "" if outcome.winner is None else self.agents[outcome.winner].agent_id
        return winner, outcome.reason

    def _record(self, env: Environment, actions: list[Any]) -> None:
        if not self.record_replay:
            return
        trimmed = _TRIMMED_OBSERVATION_KEYS.get(self.spec.id, ())
        observations = [
            {key: value for key, value in self._observation(env, player).items() if key not in trimmed}
            for player in range(len(self.agents))
        ]
        rewards: list[float | None] = list(env.last_rewards())
        self.frames.append(
            {
                "frame_number": len(self.frames),
                "observations": observations,
                "actions": actions,
                "rewards": rewards,
                "done": env.done(),
                "info": env.frame(),
            }
        )

    def _mark_stderr(self) -> None:
        """Where each agent's stderr stands now: the end of the latest frame's turn."""
        for player, session in enumerate(self.sessions):
            self.marks[player].append(session.stderr_position())

    def _tear_down(self) -> None:
        for session in self.sessions:
            if isinstance(session, ForkedSession):
                session.begin_end()  # every warm sandbox cleans up at once
        for player, session in enumerate(self.sessions):
            with contextlib.suppress(Exception):  # a teardown problem must not hide the result
                session.kill()
            text = session.stderr_text()
            cap = self.limits.stderr_cap_chars
            self.results[player].stderr = text[:cap] + ("\n[stderr truncated]" if len(text) > cap else "")
            self.results[player].stderr_offsets = [min(mark, cap) for mark in self.marks[player]]
            if session.stderr_truncated and len(text) <= cap:
                self.results[player].stderr += "\n[stderr truncated]"
        for folder in self.folders:
            staging.discard(folder)


def _read_move(env: Environment, action: Any) -> Any:
    """In chess a UCI string ("e2e4") is the action it names; any other action as sent."""
    to_action = getattr(env, "action_of", None)
    if not isinstance(action, str) or not callable(to_action):
        return action
    try:
        return to_action(action)
    except ValueError:
        return _Failure(INVALID, f"the move {_shown(action)} is not a legal UCI move in this position")


def _agent_error(frame: Any, fallback: str) -> _Failure:
    """An error frame from the agent (load failure, act raised), or a frame that is no answer.
    Both parts are capped: the agent chooses their length (ERROR_TEXT_CAP in all)."""
    if isinstance(frame, dict) and frame.get("ok") is False:
        message = str(frame.get("error") or fallback)
        if len(message) > ERROR_TEXT_CAP // 2:
            message = message[: ERROR_TEXT_CAP // 2] + " [... cut]"
        trace = frame.get("traceback")
        if isinstance(trace, str) and trace:
            message += "\n" + trace[-4000:]
        return _Failure(ERROR, message)
    return _Failure(ERROR, f"the agent sent a malformed frame: {_shown(frame)}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."
