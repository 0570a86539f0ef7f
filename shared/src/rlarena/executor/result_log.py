"""How a match Pod's runner hands its result over: lines in its own log, read back through the API.

The Pod has no network at all (a NetworkPolicy denies every connection), so the runner writes the
result, replay included, to its stdout and the executor reads the container's log. The JSON is
gzipped (a pong replay shrinks about tenfold) and base64-encoded in short lines, each marked:

    rlarena-result <base64 chunk>          (as many as needed, in order)
    rlarena-result-end <chunks> <sha256 of the gzip bytes>

Short lines because container runtimes split long lines into partial log records; markers because
anything else the runner's libraries print on stdout or stderr shares the log and is skipped; the
end line's count and digest because a log read back cut short (rotated, truncated) must be
refused, never taken for a shorter result.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import zlib
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from rlarena.executor.runner import AgentResult, MatchResult

CHUNK_LINE = "rlarena-result"
END_LINE = "rlarena-result-end"
CHUNK_CHARS = 4000
VERSION = 1
# A replay is at most a few MiB of JSON; more than this once unpacked is not a result of ours.
MAX_RESULT_BYTES = 256 * 1024 * 1024


class ResultUnreadable(ValueError):
    """The log holds no complete result: missing, cut short, corrupted or of another version."""


def result_lines(result: MatchResult) -> Iterator[str]:
    """The lines that carry `result` (without newlines)."""
    document = json.dumps({"version": VERSION, "result": asdict(result)}, separators=(",", ":"))
    packed = gzip.compress(document.encode("utf-8"), mtime=0)
    text = base64.b64encode(packed).decode("ascii")
    chunks = [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)]
    for chunk in chunks:
        yield f"{CHUNK_LINE} {chunk}"
    yield f"{END_LINE} {len(chunks)} {hashlib.sha256(packed).hexdigest()}"


def read_result(log: str) -> MatchResult:
    """The result carried by `log` (the runner container's whole log); ResultUnreadable if none is."""
    chunks: list[str] = []
    for line in log.splitlines():
        marker, _, rest = line.strip().partition(" ")
        if marker == CHUNK_LINE:
            chunks.append(rest.strip())
        elif marker == END_LINE:
            return _decoded(chunks, rest.split())
    raise ResultUnreadable("the runner's log ends before its result does" if chunks else "the runner wrote no result")


def _decoded(chunks: list[str], end: list[str]) -> MatchResult:
    if len(end) != 2 or end[0] != str(len(chunks)):
        raise ResultUnreadable(f"the result has {len(chunks)} parts, its end line says {' '.join(end)!r}")
    try:
        packed = base64.b64decode("".join(chunks), validate=True)
    except binascii.Error as error:
        raise ResultUnreadable(f"the result is not base64: {error}") from error
    if hashlib.sha256(packed).hexdigest() != end[1]:
        raise ResultUnreadable("the result does not match its digest")
    unpacker = zlib.decompressobj(wbits=31)  # gzip
    try:
        document = unpacker.decompress(packed, MAX_RESULT_BYTES)
        if unpacker.unconsumed_tail:
            raise ResultUnreadable(f"the result unpacks to more than {MAX_RESULT_BYTES} bytes")
        parsed = json.loads(document)
        return _match_result(parsed)
    except (zlib.error, UnicodeDecodeError, json.JSONDecodeError, TypeError, KeyError) as error:
        raise ResultUnreadable(f"the result is malformed: {type(error).__name__}: {error}") from error


def _match_result(parsed: Any) -> MatchResult:
    if not isinstance(parsed, dict) or parsed.get("version") != VERSION or not isinstance(parsed.get("result"), dict):
        raise ResultUnreadable("the result is not a version-1 result document")
    fields = dict(parsed["result"])
    agents = [AgentResult(**agent) for agent in fields.pop("agent_results")]
    return MatchResult(agent_results=agents, **fields)
