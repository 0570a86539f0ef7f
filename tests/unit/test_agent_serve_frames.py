"""The agent runtime's side of the frame channel, over real pipes: buffered reads of requests,
the rehearsal that never runs the agent, compact responses."""

from __future__ import annotations

import contextlib
import json
import os
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from rlarena.agent_runtime import serve
from rlarena.agent_runtime.loader import LoadedAgent

HEADER = struct.Struct(">I")


def _frame(message: Any) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return HEADER.pack(len(body)) + body


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for fd in (read_end, write_end):
        with contextlib.suppress(OSError):
            os.close(fd)


def _write_later(fd: int, pieces: list[bytes], pause_s: float = 0.02) -> threading.Thread:
    def write() -> None:
        for piece in pieces:
            time.sleep(pause_s)
            view = memoryview(piece)
            while view:
                view = view[os.write(fd, view) :]

    writer = threading.Thread(target=write)
    writer.start()
    return writer


def test_a_request_split_over_several_writes_is_read_whole(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    data = _frame({"type": "act", "observation": {"board": [[0, 1], [2, 0]]}})
    writer = _write_later(write_end, [data[:2], data[2:9], data[9:]])
    assert serve.FrameReader(read_end).next() == {"type": "act", "observation": {"board": [[0, 1], [2, 0]]}}
    writer.join()


def test_requests_that_arrive_together_are_answered_in_order(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    os.write(write_end, _frame({"n": 1}) + _frame({"n": 2}) + _frame({"type": "close"}))
    reader = serve.FrameReader(read_end)
    assert [reader.next(), reader.next(), reader.next()] == [{"n": 1}, {"n": 2}, {"type": "close"}]


def test_a_request_larger_than_a_read_arrives_intact(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    big = {"observation": list(range(60_000))}  # ~400 KB: several reads, the pipe holds 64 KB
    writer = _write_later(write_end, [_frame(big)], pause_s=0)
    assert serve.FrameReader(read_end).next() == big
    writer.join()


def test_the_end_of_input_mid_request_or_an_oversized_length_reads_as_the_end(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    os.write(write_end, _frame({"n": 1})[:-3])
    os.close(write_end)
    assert serve.FrameReader(read_end).next() is None

    oversized_read, oversized_write = os.pipe()
    os.write(oversized_write, HEADER.pack(serve.MAX_REQUEST_BYTES + 1) + b"{}")
    assert serve.FrameReader(oversized_read).next() is None
    os.close(oversized_read)
    os.close(oversized_write)


def test_responses_are_compact_json_and_an_unencodable_action_is_shown_as_text(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    serve.write_frame(write_end, {"ok": True, "action": 4})
    serve.write_frame(write_end, {"ok": True, "action": object()})
    data = os.read(read_end, 4096)
    (length,) = HEADER.unpack_from(data)
    assert data[HEADER.size : HEADER.size + length] == b'{"ok":true,"action":4}'
    second = json.loads(data[2 * HEADER.size + length :])
    assert second["ok"] is True and second["action"].startswith("<object object")


def test_play_rehearses_without_the_agent_then_calls_it_once_per_move() -> None:
    requests_read, requests_write = os.pipe()
    responses_read, responses_write = os.pipe()
    seen: list[Any] = []

    def agent(observation: Any, configuration: Any) -> int:
        seen.append((observation, configuration))
        return int(observation["legal_actions"][-1])

    loaded = LoadedAgent("function", "agent", "agent", agent)
    codes: list[int] = []
    player = threading.Thread(target=lambda: codes.append(serve.play(loaded, requests_read, responses_write)))
    player.start()
    try:
        reader = serve.FrameReader(responses_read)
        assert reader.next() == {
            "ok": True,
            "ready": True,
            "interface": "function",
            "target": "agent",
            "layer": "native",
        }
        assert seen == []  # the rehearsal ran before the ready frame, with a stand-in
        request = {"type": "act", "observation": {"legal_actions": [2, 7]}, "configuration": {"step": 1}}
        os.write(requests_write, _frame(request))
        assert reader.next() == {"ok": True, "action": 7}
        assert seen == [({"legal_actions": [2, 7]}, {"step": 1})]
        os.write(requests_write, _frame({"type": "close"}))
        player.join(timeout=10)
        assert codes == [0]
    finally:
        for fd in (requests_read, requests_write, responses_read, responses_write):
            os.close(fd)


def test_an_agent_that_raises_gets_an_error_response_and_the_next_move() -> None:
    calls: list[int] = []

    def agent(observation: Any, configuration: Any) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("no move")
        return 3

    loaded = LoadedAgent("function", "agent", "agent", agent)
    failed = serve.answer(loaded, {"type": "act", "observation": {}, "configuration": {}})
    assert failed["ok"] is False and failed["error"].startswith("ValueError: no move")
    assert serve.answer(loaded, {"type": "act", "observation": {}, "configuration": "not a dict"}) == {
        "ok": True,
        "action": 3,
    }
