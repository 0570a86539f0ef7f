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
    ready = {"ok": True, "ready": True, "interface": agent.interface, "target": agent.target, "layer": agent.layer}
    write_frame(responses, ready)
    while True:
        request = read_frame(requests)
        if request is None or not isinstance(request, dict) or request.get("type") != "act":
            return 0  # "close", end of input, or a runner we do not understand: stop
        configuration = request.get("configuration")
        overage = request.get("remaining_overage")
        try:
            action = agent.act(
                request.get("observation"),
                configuration if isinstance(configuration, dict) else {},
                overage if isinstance(overage, int | float) else None,
            )
        except (Exception, SystemExit) as error:
            write_frame(
                responses,
                {
                    "ok": False,
                    "error": f"{type(error).__name__}: {error}{mismatch_hint(error, agent.layer)}",
                    "traceback": format_user_traceback(error),
                },
            )
            continue
        finally:
            with contextlib.suppress(Exception):  # the agent may have replaced or closed sys.stdout
                sys.stdout.flush()
        write_frame(responses, {"ok": True, "action": plain_action(action)})


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


def read_frame(fd: int) -> Any:
    """The next request, or None at end of input (or a frame too large to be ours)."""
    header = _read_exactly(fd, HEADER.size)
    if header is None:
        return None
    (length,) = HEADER.unpack(header)
    if length > MAX_REQUEST_BYTES:
        return None
    body = _read_exactly(fd, length)
    return None if body is None else json.loads(body.decode("utf-8"))


def write_frame(fd: int, message: dict[str, Any]) -> None:
    try:
        body = json.dumps(message).encode("utf-8")
    except (TypeError, ValueError):  # NaN is fine for json; a non-serialisable value is not
        body = json.dumps({"ok": True, "action": repr(message.get("action"))[:200]}).encode("utf-8")
    data = HEADER.pack(len(body)) + body
    while data:
        data = data[os.write(fd, data) :]


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = os.read(fd, size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


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
