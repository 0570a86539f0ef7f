"""The platform's side of a warm sandbox: a zygote in the strict sandbox that forks one copy per match.

`WarmSandbox` starts `rlarena.agent_runtime.zygote` with every layer of `spawn_sandboxed` (its own
pool uid, cgroup, seccomp filter, namespaces, read-only code) and speaks to it over a
SOCK_SEQPACKET socket given as its stdin. `fork` hands the zygote three fresh pipes (requests,
responses, stderr) and gets back a `ForkedSession`: the same frame channel the runner drives for a
cold `SandboxSession`. Killing that session asks the zygote to kill every other process of its
namespace and clean its scratch space, after which the zygote can fork the next match's copy.

The zygote serves one match at a time. Whatever goes wrong with it (it died, stopped answering,
sent nonsense) raises `WarmSandboxBroken`: the caller closes it and starts the agent cold.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rlarena.sandbox.process import Mount, SandboxLimits, SpawnedChild, spawn_sandboxed
from rlarena.sandbox.session import FrameChannel

PACKET_BYTES = 64 * 1024
# The zygote's own answers (fork, status, end) take milliseconds; these bound a wedged one.
FORK_TIMEOUT_S = 5.0
END_TIMEOUT_S = 5.0
STATUS_TIMEOUT_S = 0.5
_LOAD_LOG_CAP = 10_000


class WarmSandboxBroken(Exception):
    """The zygote died or stopped following its protocol; close it and start cold."""


class WarmSandbox:
    """A zygote process in the strict sandbox; `close()` it (kills it and everything it started)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        limits: SandboxLimits,
        mounts: Sequence[Mount],
        on_close: Callable[[], None] = lambda: None,
    ) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._child: SpawnedChild = spawn_sandboxed(
                argv, cwd=cwd, limits=limits, stdin=False, mounts=mounts, control=theirs.fileno()
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._control = ours
        self.uid = self._child.uid
        self._on_close = on_close
        self._closed = False
        self.busy = False
        self._forked_due = False
        self.load_log = ""  # what the zygote printed while it loaded the agent's libraries
        self.last_used = time.monotonic()

    def wait_ready(self, timeout: float) -> str:
        """ "" once the agent is loaded and the zygote may fork; otherwise why it must run cold."""
        try:
            reply = self._receive(timeout)
        except WarmSandboxBroken as problem:
            return f"the warm sandbox did not start: {problem}"
        self.load_log = self._take_load_log()
        if reply.get("ok") is True and reply.get("ready") is True:
            return ""
        return str(reply.get("cold") or "the warm sandbox refused to serve")[:300]

    def fork(self, player: int, stderr_cap_bytes: int) -> ForkedSession:
        """A fresh copy of the loaded agent, playing `player`, as a frame channel."""
        requests_r, requests_w = os.pipe2(os.O_CLOEXEC)
        responses_r, responses_w = os.pipe2(os.O_CLOEXEC)
        stderr_r, stderr_w = os.pipe2(os.O_CLOEXEC)
        given = (requests_r, responses_w, stderr_w)
        try:
            message = json.dumps({"type": "fork", "player": player}).encode("utf-8")
            try:
                socket.send_fds(self._control, [message], list(given))
            except OSError as error:
                raise WarmSandboxBroken(f"the zygote is gone: {error}") from error
        except BaseException:
            for fd in (requests_w, responses_r, stderr_r):
                os.close(fd)
            raise
        finally:
            for fd in given:
                os.close(fd)
        # The zygote's "forked" reply is read with its next answer: the copy's ready frame is what
        # the runner waits for, and two agents' forks then overlap.
        self._forked_due = True
        self.busy = True
        return ForkedSession(self, requests_w, responses_r, stderr_r, stderr_cap_bytes)

    def tell(self, message: dict[str, Any]) -> None:
        try:
            self._control.send(json.dumps(message).encode("utf-8"))
        except OSError as error:
            raise WarmSandboxBroken(f"the zygote is gone: {error}") from error

    def answer(self, timeout: float) -> dict[str, Any]:
        """The zygote's next reply, after the "forked" reply still due, which is checked."""
        if self._forked_due:
            self._forked_due = False
            forked = self._receive(FORK_TIMEOUT_S)
            if not isinstance(forked.get("forked"), int):
                raise WarmSandboxBroken(f"unexpected reply to fork: {forked!r:.100}")
        return self._receive(timeout)

    def fork_failed(self) -> bool:
        """Whether the last fork did not happen (the zygote died or refused), without waiting."""
        if not self._forked_due:
            return False
        ready, _, _ = select.select([self._control], [], [], 0)
        if not ready:
            return True  # alive but silent while its copy failed to start: treat it as broken
        try:
            self._forked_due = False
            forked = self._receive(0)
        except WarmSandboxBroken:
            return True
        return not isinstance(forked.get("forked"), int)

    def memory_bytes(self) -> int:
        """What the zygote holds (its cgroup's usage); 0 when the host does not say."""
        group = self._child.group
        return (group.memory_current() or 0) if group is not None else 0

    def close(self) -> None:
        """Kill the zygote and every process of its sandbox, release its uid and cgroup. Idempotent."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._control.close()
        self._child.end_all()
        process = self._child.process
        if process.returncode is None:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(process.pid, 0)
            process.returncode = -9
        self._child.release()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._on_close()

    @property
    def closed(self) -> bool:
        return self._closed

    def _receive(self, timeout: float) -> dict[str, Any]:
        ready, _, _ = select.select([self._control], [], [], max(timeout, 0.0))
        if not ready:
            raise WarmSandboxBroken(f"no answer from the zygote within {timeout:g} s")
        try:
            data = self._control.recv(PACKET_BYTES)
        except OSError as error:
            raise WarmSandboxBroken(f"the zygote is gone: {error}") from error
        if not data:
            raise WarmSandboxBroken("the zygote exited")
        try:
            reply = json.loads(data)
        except ValueError as error:
            raise WarmSandboxBroken("the zygote sent a malformed message") from error
        if not isinstance(reply, dict):
            raise WarmSandboxBroken("the zygote sent a malformed message")
        return reply

    def _take_load_log(self) -> str:
        stderr = self._child.process.stderr
        if stderr is None:
            return ""
        fd = stderr.fileno()
        os.set_blocking(fd, False)
        taken = bytearray()
        with contextlib.suppress(BlockingIOError, OSError):
            while len(taken) < _LOAD_LOG_CAP and (chunk := os.read(fd, 65536)):
                taken += chunk
        return taken[:_LOAD_LOG_CAP].decode("utf-8", errors="replace")


class ForkedSession(FrameChannel):
    """One match's copy of a warm agent. `kill()` ends the match in the zygote and hands the zygote
    back through `on_end(sandbox, still_usable)`."""

    def __init__(self, sandbox: WarmSandbox, requests: int, responses: int, stderr: int, stderr_cap: int) -> None:
        self._sandbox = sandbox
        self._fds = (requests, responses, stderr)
        self._preface = sandbox.load_log
        super().__init__(requests, responses, stderr, stderr_cap)
        self._status: int | None = None
        self._killed = False
        self._broken = False
        self._end_asked = False
        self.on_end: Callable[[WarmSandbox, bool], None] = lambda sandbox, usable: sandbox.close()
        self.cpu_seconds = 0.0

    def exit_status(self) -> int | None:
        if self._status is None and not self._killed and not self._broken:
            try:
                self._sandbox.tell({"type": "status"})
                status = self._sandbox.answer(STATUS_TIMEOUT_S).get("status")
            except WarmSandboxBroken:
                self._broken = True
                return None
            self._status = status if isinstance(status, int) else None
        return self._status

    def describe_exit(self) -> str:
        deadline = time.monotonic() + 0.5
        while self.exit_status() is None and not self._broken and time.monotonic() < deadline:
            time.sleep(0.01)
        code = self._status
        if code is None:
            return "still running"
        if code >= 0:
            return f"exited {code}"
        return f"killed by signal {-code}"

    def stderr_text(self) -> str:
        return self._preface + super().stderr_text()

    def stderr_position(self) -> int:
        return len(self._preface) + super().stderr_position()

    def begin_end(self) -> None:
        """Ask the zygote to end the match without waiting (`kill` waits): ends then overlap."""
        if self._end_asked or self._killed or self._broken:
            return
        self._end_asked = True
        try:
            self._sandbox.tell({"type": "end"})
        except WarmSandboxBroken:
            self._broken = True

    def fork_failed(self) -> bool:
        """Whether the zygote failed this copy's fork (the runner then starts the agent cold)."""
        self._broken = self._broken or self._sandbox.fork_failed()
        return self._broken

    def kill(self) -> None:
        if self._killed:
            return
        self.begin_end()
        self._killed = True
        usable = not self._broken
        if usable:
            try:
                reply = self._sandbox.answer(END_TIMEOUT_S)
                usable = reply.get("ended") is True
                status = reply.get("status")
                self._status = status if isinstance(status, int) else self._status
            except WarmSandboxBroken:
                usable = False
        if not usable:
            self._sandbox.close()  # kills the copy too: it lives in the zygote's namespaces
        self._sandbox.busy = False
        self.close_channel()
        self.on_end(self._sandbox, usable)

    def close_channel(self) -> None:
        # Every process holding the stderr pipe is dead now: the drain reads its end at once.
        self._stderr.join(timeout=0.5)
        channel = self._fds[:2] if self._stderr.is_alive() else self._fds
        for fd in channel:
            with contextlib.suppress(OSError):
                os.close(fd)
