"""`python -I -m rlarena.agent_runtime.serve [--listen <socket>] <folder> <entry_point> <player_id>`: play moves.

A long-lived child that loads the agent once and then answers the match runner, one request at
a time, over its stdin and stdout. Frames are a 4-byte big-endian length then that many bytes of
UTF-8 JSON.

With `--listen <socket>` (an agent container of a match Pod, where the runner is another
container) the same frames go over one connection to a unix socket at that path instead. The
socket listens before the agent is loaded, so the runner can connect while the agent loads; the
first connection is accepted once loading ended (the ready or error frame goes to it), then the
socket file is removed and no other connection is ever accepted. The file is made connectable by
any uid (0666): the runner runs as another user, and only the containers that mount the folder
can reach it.

First frame out, once the agent is loaded:
    {"ok": true, "ready": true, "interface": "function", "target": "...", "layer": "native"}
("layer": the compatibility layer the agent is played through, see rlarena.agent_runtime.loader)
or, when it cannot be loaded (the process then exits 1):
    {"ok": false, "error": "what to fix", "traceback": "..."}
Requests in:
    {"type": "act", "observation": ..., "configuration": {...}, "remaining_overage": 12.5}
    {"type": "close"}
Responses out, one per "act":
    {"ok": true, "action": 4}                                   (the action as given, see below)
    {"ok": false, "error": "ValueError: ...", "traceback": "..."}  (act raised)

The protocol uses private copies of the original descriptors 0 and 1 (or the connection); fd 0
then reads /dev/null and fd 1 is stderr, so the agent's prints (even from C code) go to the
captured stderr (in a Pod, the container's log) and cannot corrupt or forge a frame by accident.
Nothing here is trusted: the agent's code shares this process, so the runner treats every frame
as untrusted input.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rlarena.agent_runtime.hints import mismatch_hint
from rlarena.agent_runtime.loader import AgentLoadError, LoadedAgent, format_user_traceback, load_agent

USAGE = "usage: python -I -m rlarena.agent_runtime.serve [--listen <socket>] <folder> <entry_point> <player_id>"
HEADER = struct.Struct(">I")
# Requests carry at most a chess observation (~40 KB); anything near this is a broken runner.
MAX_REQUEST_BYTES = 64 * 1024 * 1024
_READ_CHUNK = 64 * 1024
# Responses go out compact: the same JSON, fewer bytes.
_encode = json.JSONEncoder(separators=(",", ":")).encode


def main(argv: list[str]) -> int:
    sys.stdout.flush()
    if argv[:1] == ["--listen"]:
        if len(argv) < 2:
            print(USAGE, file=sys.stderr)
            return 2
        channel = _listening(argv[1])
        argv = argv[2:]
    else:
        channel = _standard_streams()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    if len(argv) != 3 or not argv[2].lstrip("-").isdigit():
        write_frame(channel()[1], {"ok": False, "error": USAGE, "traceback": ""})
        return 2
    try:
        agent = load_agent(Path(argv[0]), argv[1], int(argv[2]))
    except AgentLoadError as error:
        write_frame(channel()[1], {"ok": False, "error": error.message, "traceback": error.user_traceback})
        return 1
    except BaseException as error:  # a bug of ours or something exotic: still one frame
        write_frame(
            channel()[1],
            {"ok": False, "error": f"the agent could not be loaded: {error!r}", "traceback": traceback.format_exc()},
        )
        return 1
    requests, responses = channel()
    return play(agent, requests, responses)


def play(agent: LoadedAgent, requests: int, responses: int) -> int:
    """Send the ready frame, then answer requests until "close" or the end of input."""
    rehearse()
    ready = {"ok": True, "ready": True, "interface": agent.interface, "target": agent.target, "layer": agent.layer}
    write_frame(responses, ready)
    incoming = FrameReader(requests)
    while True:
        request = incoming.next()
        if request is None or not isinstance(request, dict) or request.get("type") != "act":
            return 0  # "close", end of input, or a runner we do not understand: stop
        write_frame(responses, answer(agent, request))


def answer(agent: LoadedAgent, request: dict[str, Any]) -> dict[str, Any]:
    """The response to an "act" request: the agent's action, or what it raised."""
    configuration = request.get("configuration")
    overage = request.get("remaining_overage")
    try:
        action = agent.act(
            request.get("observation"),
            configuration if isinstance(configuration, dict) else {},
            overage if isinstance(overage, int | float) else None,
        )
    except (Exception, SystemExit) as error:
        return {
            "ok": False,
            "error": f"{type(error).__name__}: {error}{mismatch_hint(error, agent.layer)}",
            "traceback": format_user_traceback(error),
        }
    finally:
        with contextlib.suppress(Exception):  # the agent may have replaced or closed sys.stdout
            sys.stdout.flush()
    return {"ok": True, "action": plain_action(action)}


def rehearse(times: int = 2) -> None:
    """Answer a sample request as a move does, from its bytes to the response's, with a stand-in
    for the agent (none of the agent's code runs): before the clock of any move runs.

    A forked copy shares its parent's memory until it writes to it, and CPython writes to the
    objects it touches (reference counts), to the allocator's pools and to the bytecode it
    specialises: a copy's first move would pay those page copies (~0.1 ms). Here they are paid at
    start-up, where both agents load at once. In a warm parent, a few more times also leave the
    code specialised for every copy."""
    stand_in = LoadedAgent("function", "agent", "rehearsal", lambda observation, _: observation["legal_actions"][0])
    data = _frame(_SAMPLE_REQUEST)
    for _ in range(times):
        _frame(answer(stand_in, FrameReader(-1, data).next()))


def _standard_streams() -> Callable[[], tuple[int, int]]:
    """Private copies of descriptors 0 and 1 (requests, responses), taken before they are redirected."""
    requests, responses = os.dup(0), os.dup(1)
    return lambda: (requests, responses)


def _listening(path: str) -> Callable[[], tuple[int, int]]:
    """Listen at `path` now; the returned callable accepts the one connection (requests, responses)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # left by an earlier run of this container
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    os.chmod(path, 0o666)  # noqa: S103 - see the module docstring
    server.listen(1)
    accepted: list[int] = []

    def accept() -> tuple[int, int]:
        if not accepted:
            connection, _ = server.accept()
            server.close()
            with contextlib.suppress(OSError):
                os.unlink(path)
            accepted.append(connection.detach())
        return accepted[0], accepted[0]

    return accept


def plain_action(action: Any) -> Any:
    """An integer-like action (numpy scalars, a 0-d array) as int; anything else as JSON can
    carry it, so the runner sees what was returned and rules it invalid itself."""
    if type(action) is int:  # the usual answer, first
        return action
    if isinstance(action, bool) or action is None or isinstance(action, str | float | list | dict):
        return action
    if isinstance(action, int):
        return int(action)
    index = getattr(action, "__index__", None)  # numpy integers implement __index__, floats do not
    if callable(index):
        with contextlib.suppress(Exception):
            return int(index())
    with contextlib.suppress(Exception):
        if getattr(action, "shape", None) == () and callable(getattr(action, "item", None)):
            return plain_action(action.item())
    return repr(action)[:200]


# A request of a move's shape, for `rehearse`.
_SAMPLE_REQUEST = {
    "type": "act",
    "observation": {"board": [[0, 1, 2], [0, 0, 0]], "mask": [0, 1, 1], "legal_actions": [1, 2], "player": 1},
    "configuration": {"environment": "sample-v1", "player": 1, "step": 3, "move_timeout_s": 2, "overage_s": 60},
    "remaining_overage": 59.5,
}


class FrameReader:
    """Requests from a descriptor, buffered: one read(2) brings a whole request, header and body
    together, instead of one read for the header and another for the body."""

    def __init__(self, fd: int, buffered: bytes = b"") -> None:
        self._fd = fd
        self._buffer = bytearray(buffered)

    def next(self) -> Any:
        """The next request, or None at end of input (or a frame too large to be ours)."""
        buffer = self._buffer
        while True:
            wanted = _READ_CHUNK
            if len(buffer) >= HEADER.size:
                (length,) = HEADER.unpack_from(buffer)
                if length > MAX_REQUEST_BYTES:
                    return None
                end = HEADER.size + length
                if len(buffer) >= end:
                    body = buffer[HEADER.size : end]
                    del buffer[:end]
                    return json.loads(body.decode("utf-8"))
                wanted = max(wanted, end - len(buffer))
            chunk = os.read(self._fd, wanted)
            if not chunk:
                return None
            buffer += chunk


def write_frame(fd: int, message: dict[str, Any]) -> None:
    data = _frame(message)
    while data:
        data = data[os.write(fd, data) :]


def _frame(message: dict[str, Any]) -> bytes:
    try:
        body = _encode(message).encode("utf-8")
    except (TypeError, ValueError):  # NaN is fine for json; a non-serialisable value is not
        body = _encode({"ok": True, "action": repr(message.get("action"))[:200]}).encode("utf-8")
    return HEADER.pack(len(body)) + body


if __name__ == "__main__":
    code = 1
    try:
        code = main(sys.argv[1:])
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        # Skip interpreter shutdown: threads or atexit hooks the agent left behind must not keep
        # the process alive.
        os._exit(code)
