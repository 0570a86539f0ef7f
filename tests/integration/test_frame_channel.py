"""The runner's side of the frame channel with a real sandboxed child: frames that arrive in
pieces, frames larger than one read, several frames in one write, and the end of output."""

from __future__ import annotations

import shutil
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlarena.sandbox.process import SandboxLimits, prepare_workdir
from rlarena.sandbox.session import ChannelClosed, MalformedFrame, SandboxSession

PYTHON = "/usr/bin/python3"
LIMITS = SandboxLimits(wall_seconds=20, cpu_seconds=10)
# The child's helpers: `send(obj)` writes one frame in the given pieces, with a pause between them.
PRELUDE = """
import json, os, struct, sys, time
def send(message, cuts=(), pause=0.05):
    body = json.dumps(message).encode()
    data = struct.pack(">I", len(body)) + body
    start = 0
    for cut in [*cuts, len(data)]:
        os.write(1, data[start:cut])
        start = cut
        time.sleep(pause)
"""


@pytest.fixture
def workdir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="rlarena-frames-test-"))
    prepare_workdir(folder)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _child(workdir: Path, code: str) -> SandboxSession:
    return SandboxSession([PYTHON, "-I", "-c", PRELUDE + textwrap.dedent(code)], cwd=workdir, limits=LIMITS)


def test_frames_in_pieces_in_bulk_and_back_to_back_are_all_received(workdir: Path) -> None:
    code = """
    send({"n": 1}, cuts=(2, 6))                     # the header itself split
    send({"big": "x" * 300_000}, pause=0)           # several reads' worth
    body = [json.dumps({"n": k}).encode() for k in (3, 4)]
    os.write(1, b"".join(struct.pack(">I", len(b)) + b for b in body))
    sys.stdin.read()                                # until the runner closes the channel
    """
    with _child(workdir, code) as child:
        assert child.receive(timeout=10) == {"n": 1}
        assert child.receive(timeout=10) == {"big": "x" * 300_000}
        assert child.receive(timeout=10) == {"n": 3}
        assert child.receive(timeout=10) == {"n": 4}
        assert child.receive(timeout=0.2) is None  # nothing more, and the wait is bounded


def test_output_that_ends_mid_frame_is_a_closed_channel_not_a_hang(workdir: Path) -> None:
    code = """
    send({"n": 1})
    os.write(1, struct.pack(">I", 100) + b'{"cut')
    """
    with _child(workdir, code) as child:
        assert child.receive(timeout=10) == {"n": 1}
        with pytest.raises(ChannelClosed, match="ended its output"):
            child.receive(timeout=10)


def test_a_frame_that_is_not_json_is_malformed(workdir: Path) -> None:
    code = """
    os.write(1, struct.pack(">I", 5) + b"nope!")
    sys.stdin.read()
    """
    with _child(workdir, code) as child, pytest.raises(MalformedFrame):
        child.receive(timeout=10)


def test_a_request_reaches_the_child_and_its_answer_comes_back(workdir: Path) -> None:
    code = """
    header = os.read(0, 4)
    (length,) = struct.unpack(">I", header)
    body = b""
    while len(body) < length:
        body += os.read(0, length - len(body))
    send({"echo": json.loads(body)})
    """
    with _child(workdir, code) as child:
        child.send({"type": "act", "observation": {"board": [[0, 1, 2]]}, "remaining_overage": 1.5}, timeout=5)
        assert child.receive(timeout=10) == {
            "echo": {"type": "act", "observation": {"board": [[0, 1, 2]]}, "remaining_overage": 1.5}
        }
