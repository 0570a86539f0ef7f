"""A long-lived sandboxed child spoken to in length-prefixed JSON frames.

`run_sandboxed` runs a command to its end; an agent instead stays up for a whole match and
answers one request per move. `SandboxSession` starts it with the same layers (see
`rlarena.sandbox.process`: the strict sandbox where the host has it, its own uid and cgroup,
rlimits, a scrubbed environment, no network), keeps stdin and stdout as the frame channel and
drains stderr on a thread into a capped buffer so a chatty child never blocks on a full pipe.

Frames: a 4-byte big-endian length, then UTF-8 JSON. Every wait is bounded: `send` and
`receive` take a timeout enforced with poll(2) while waiting, so a child that stops reading or
writing costs its deadline and no more. Everything the child sends is untrusted input.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import select
import signal
import struct
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlarena.sandbox.process import Mount, SandboxLimits, spawn_sandboxed

HEADER = struct.Struct(">I")
# Responses are tiny ({"ok": true, "action": 4}); a larger one is a child misbehaving.
MAX_FRAME_BYTES = 1024 * 1024
_READ_CHUNK = 64 * 1024
# What `take_frame` returns while a frame is incomplete (None is a valid JSON frame).
NO_FRAME: Any = object()
_READABLE = select.POLLIN | select.POLLHUP | select.POLLERR
# Requests go out compact: the same JSON for the agent, fewer bytes to write and to parse.
_encode = json.JSONEncoder(separators=(",", ":")).encode


def poll_ms(seconds: float) -> float:
    """A poll(2) timeout for a wait of `seconds`: milliseconds, which poll rounds up (a wait never
    ends before its deadline), capped so that a distant deadline cannot overflow poll's int."""
    return min(max(seconds, 0.0), 3600.0) * 1000


class SessionError(Exception):
    """The child broke the channel; `str()` says how, for the agent's error message."""


class ChannelClosed(SessionError):
    """The child exited or closed its end of a pipe."""


class MalformedFrame(SessionError):
    """Bytes that are not a frame: oversized, not UTF-8 or not JSON."""


class _StderrDrain(threading.Thread):
    """Keeps the first `cap` bytes of stderr and drops the rest, reading until end of file.

    Reads happen under the lock, so `position()` can first take whatever the pipe holds and then
    say exactly how much the child had written by then (what the runner marks at each frame)."""

    def __init__(self, fd: int, cap: int) -> None:
        super().__init__(daemon=True, name="sandbox-stderr")
        self._fd = fd
        self._cap = cap
        self._data = bytearray()
        self._chars = 0  # characters in _data, as text() decodes it
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._lock = threading.Lock()
        self._ready = select.poll()  # used under the lock only
        self._ready.register(fd, _READABLE)
        self._ended = False
        self.truncated = False

    def run(self) -> None:
        waiter = select.poll()
        waiter.register(self._fd, _READABLE)
        while True:
            try:
                waiter.poll(200)
            except OSError:
                return
            with self._lock:
                self._take_available()
                if self._ended:
                    return

    def _take_available(self) -> None:
        """Read what the pipe holds now (a bounded number of chunks); the lock is held."""
        for _ in range(16):
            if self._ended or not self._ready.poll(0):
                return
            try:
                chunk = os.read(self._fd, _READ_CHUNK)
            except OSError:
                chunk = b""
            if not chunk:
                self._ended = True
                return
            room = self._cap - len(self._data)
            if room > 0:
                kept = chunk[:room]
                self._data += kept
                self._chars += len(self._decoder.decode(kept))
            if len(chunk) > room:
                self.truncated = True

    def position(self) -> int:
        """Characters of stderr kept so far, everything written before this call included."""
        with self._lock:
            with contextlib.suppress(OSError, ValueError):
                self._take_available()
            return self._chars

    def text(self) -> str:
        with self._lock:
            return self._data.decode("utf-8", errors="replace")


class FrameChannel(ABC):
    """Frames to and from a sandboxed child over two descriptors, its stderr drained on a thread.

    The child's process is the subclass's: `SandboxSession` started it, a warm sandbox forked it
    (`rlarena.sandbox.forked`)."""

    def __init__(self, requests: int, responses: int, stderr: int, stderr_cap_bytes: int) -> None:
        self._in = requests
        self._out = responses
        os.set_blocking(self._in, False)
        os.set_blocking(self._out, False)
        self._buffer = bytearray()
        self._eof = False
        self._stderr = _StderrDrain(stderr, stderr_cap_bytes)
        self._stderr.start()

    def fileno(self) -> int:
        """The child's stdout, for callers that wait on several sessions at once."""
        return self._out

    def send(self, message: Any, timeout: float) -> None:
        """Write one frame; ChannelClosed when the child is gone, TimeoutError when it stops
        reading for `timeout` seconds with the pipe full."""
        body = _encode(message).encode("utf-8")
        data = memoryview(HEADER.pack(len(body)) + body)
        try:  # a request fits in the pipe almost always: no selector needed then
            data = data[os.write(self._in, data) :]
        except BlockingIOError:
            pass
        except (BrokenPipeError, ValueError, OSError) as error:
            raise ChannelClosed("the process closed its input (crashed or exited)") from error
        if not data:
            return
        deadline = time.monotonic() + timeout
        waiter = select.poll()
        waiter.register(self._in, select.POLLOUT)
        while data:
            try:
                written = os.write(self._in, data)
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the child stopped reading its input") from None
                waiter.poll(poll_ms(remaining))
                continue
            except (BrokenPipeError, ValueError, OSError) as error:
                raise ChannelClosed("the process closed its input (crashed or exited)") from error
            data = data[written:]

    def receive(self, timeout: float) -> Any | None:
        """The next frame, or None when none completes within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        waiter = select.poll()
        waiter.register(self._out, _READABLE)
        while True:
            frame = self.take_frame()
            if frame is not NO_FRAME:
                return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if waiter.poll(poll_ms(remaining)):
                self.read_available()

    def read_available(self) -> None:
        """Move what the child has written into the buffer without blocking.

        A short read emptied the pipe: no second read (and system call) just to hear EAGAIN; the
        end of output, if it follows, is read when the descriptor next polls readable."""
        while not self._eof:
            try:
                chunk = os.read(self._out, _READ_CHUNK)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self._eof = True
                return
            self._buffer += chunk
            if len(chunk) < _READ_CHUNK or len(self._buffer) > MAX_FRAME_BYTES + HEADER.size:
                return  # drained; or a flood, which take_frame reports

    def take_frame(self) -> Any:
        """A complete frame from the buffer, `NO_FRAME` when more bytes are needed; raises
        MalformedFrame or, once the child's output ended mid-frame or before one, ChannelClosed."""
        if len(self._buffer) >= HEADER.size:
            (length,) = HEADER.unpack_from(self._buffer)
            if length > MAX_FRAME_BYTES:
                raise MalformedFrame(f"a frame of {length} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")
            if len(self._buffer) >= HEADER.size + length:
                body = bytes(self._buffer[HEADER.size : HEADER.size + length])
                del self._buffer[: HEADER.size + length]
                try:
                    return json.loads(body.decode("utf-8"))
                except (UnicodeDecodeError, ValueError) as error:
                    raise MalformedFrame(f"a frame that is not UTF-8 JSON: {error}") from error
        if self._eof:
            raise ChannelClosed(f"the process ended its output ({self.describe_exit()})")
        return NO_FRAME

    def stderr_text(self) -> str:
        return self._stderr.text()

    def stderr_position(self) -> int:
        """How many characters of stderr the child has written so far (up to the cap)."""
        return self._stderr.position()

    @property
    def stderr_truncated(self) -> bool:
        return self._stderr.truncated

    @abstractmethod
    def exit_status(self) -> int | None:
        """The child's returncode once it has exited (negative: killed by that signal), else None."""
        ...

    @abstractmethod
    def describe_exit(self) -> str:
        """For people: "exited 1", "killed by SIGKILL", or "still running"."""
        ...

    @abstractmethod
    def kill(self) -> None:
        """End the child and everything it started, and close the channel. Idempotent."""
        ...


class SandboxSession(FrameChannel):
    """One sandboxed child; always end it with `kill()` (also done by the context manager)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        limits: SandboxLimits,
        env: Mapping[str, str] | None = None,
        stderr_cap_bytes: int = 10_000,
        mounts: Sequence[Mount] = (),
    ) -> None:
        child = spawn_sandboxed(argv, cwd=cwd, limits=limits, env=env, stdin=True, mounts=mounts)
        self._child = child
        self.process = child.process
        self.network_isolated = child.network_isolated
        self.uid = child.uid
        self.started = time.monotonic()
        assert self.process.stdin is not None and self.process.stdout is not None
        assert self.process.stderr is not None
        super().__init__(
            self.process.stdin.fileno(), self.process.stdout.fileno(), self.process.stderr.fileno(), stderr_cap_bytes
        )
        self._killed = False
        self.cpu_seconds = 0.0

    def __enter__(self) -> SandboxSession:
        return self

    def __exit__(self, *_: object) -> None:
        self.kill()

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_status(self) -> int | None:
        """The returncode once the child has exited (negative: killed by that signal), else None."""
        if self.process.returncode is None:
            with contextlib.suppress(ChildProcessError):
                # WNOWAIT: look without reaping, so the group id stays ours until kill().
                if os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                    self._reap()
        return self.process.returncode

    def describe_exit(self) -> str:
        """For people: "exited 1", "killed by SIGKILL", or "still running"."""
        if self.process.returncode is None:
            # The output ended, so the child is exiting: give it a moment to be reported.
            deadline = time.monotonic() + 0.5
            while self.exit_status() is None and time.monotonic() < deadline:
                time.sleep(0.01)
        code = self.process.returncode
        if code is None:
            return "still running"
        if code >= 0:
            return f"exited {code}"
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"

    def kill(self) -> None:
        """SIGKILL the whole process group, reap the child and close the pipes. Idempotent."""
        if self._killed:
            return
        self._killed = True
        self._child.end_all()  # before reaping, so the group id cannot have been reused
        if self.process.returncode is None:
            self._reap()
        self._child.release()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        # The drain ends at end of file, once every process holding stderr is dead.
        self._stderr.join(timeout=0.5)
        if not self._stderr.is_alive() and self.process.stderr is not None:
            with contextlib.suppress(OSError):
                self.process.stderr.close()

    def _reap(self) -> None:
        _, status, usage = os.wait4(self.pid, 0)
        self.process.returncode = self._child.translate(os.waitstatus_to_exitcode(status))
        self.cpu_seconds = max(usage.ru_utime + usage.ru_stime, self._child.cpu_seconds() or 0.0)
