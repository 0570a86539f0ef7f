"""An agent's captured stderr as lines, each with the replay frame it was printed for.

The runner records, per agent, where stderr stood at the end of each frame's turn (character
offsets, one per frame: frame 0's after start-up, frame n's once step n's actions arrived). A line
belongs to the first frame whose offset lies beyond the line's start; what was printed after the
last mark (a failing move, the truncation notice) belongs to the last frame. Without offsets (results
stored before they were recorded, or agents whose output is another container's log) a line's
frame is None.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any


def frame_lines(text: str, offsets: Sequence[int]) -> list[dict[str, Any]]:
    """[{"frame": n or None, "text": line}] for each line of `text` (blank lines left out)."""
    marks = sorted(offset for offset in offsets if isinstance(offset, int) and not isinstance(offset, bool))
    lines: list[dict[str, Any]] = []
    start = 0
    for line in text.splitlines(keepends=True):
        shown = line.rstrip("\r\n")
        if shown.strip():
            frame = min(bisect_right(marks, start), len(marks) - 1) if marks else None
            lines.append({"frame": frame, "text": shown})
        start += len(line)
    return lines
