"""Progress of a long run on stderr: one line redrawn in place on a terminal, else a line per step."""

from __future__ import annotations

import sys
import time
from typing import TextIO

_BAR = 24


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.started = time.monotonic()
        self.width = 0

    def update(self, done: int, text: str) -> None:
        elapsed = time.monotonic() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        left = f", about {(self.total - done) / rate:.0f} s left" if rate > 0 and done < self.total else ""
        if self.live:
            filled = round(_BAR * done / self.total) if self.total else _BAR
            line = f"[{'#' * filled}{'.' * (_BAR - filled)}] {done}/{self.total}  {text}  ({elapsed:.0f} s{left})"
            self.stream.write("\r" + line.ljust(self.width))
            self.width = len(line)
        else:
            self.stream.write(f"{done}/{self.total}  {text}  ({elapsed:.1f} s{left})\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.live and self.width:
            self.stream.write("\n")
            self.stream.flush()
