"""`rlarena play GAME AGENT_A AGENT_B`: matches on this machine, on the platform's runner and sandbox.

Game i (from 0) has A as player i % 2 (with --swap, B moves first in game 0) and seed S + i; --jobs
games are played at once (default 2: one per core of a small machine), and counted in their order,
so the summary does not depend on it. A summary follows: A's wins, draws and losses, each agent's
statuses and move times, and A's score with a 95% interval and the Elo difference it implies. Exit
status: 0 when the matches ran, 1 when the platform could not play some, 2 for a bad game, agent or
option.
"""

from __future__ import annotations

import argparse
import sys
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rlarena.authoring.games import add_game_argument

if TYPE_CHECKING:
    from rlarena.authoring.local_matches import Arena, GameRecord

SUMMARY = "play matches between two agents on this machine, in the platform's sandbox"
AGENT_HELP = "a .py file, a folder, a .zip or .tar.gz, or a house agent (house:random, house:negamax, ...)"


def configure(parser: argparse.ArgumentParser) -> None:
    add_game_argument(parser)
    parser.add_argument("agent_a", metavar="AGENT_A", help=AGENT_HELP)
    parser.add_argument("agent_b", metavar="AGENT_B", help=AGENT_HELP)
    parser.add_argument("--games", type=int, default=10, help="how many matches (default 10)")
    parser.add_argument("--seed", type=int, default=1, help="the first match's seed; then S+1, ... (default 1)")
    parser.add_argument("--replay", type=Path, default=None, help="write the last match's replay here as HTML")
    parser.add_argument("--swap", action="store_true", help="B moves first in the first match")
    parser.add_argument("--jobs", type=int, default=2, help="matches played at once (default 2)")


def run(arguments: argparse.Namespace) -> int:
    from rlarena.authoring.local_matches import local_arena
    from rlarena.authoring.progress import Progress
    from rlarena.authoring.tally import Tally
    from rlarena.config import load_settings
    from rlarena.errors import InvalidInput

    problem = _option_problem(arguments)
    if problem:
        return _refuse(problem)
    games: int = arguments.games
    try:
        with local_arena(arguments.game, arguments.agent_a, arguments.agent_b, load_settings()) as arena:
            _say_sandbox()
            tally = Tally(arena.names)
            progress = Progress(games)
            print(f"{arena.game}: A = {arena.names[0]}, B = {arena.names[1]}, {games} games", file=sys.stderr)
            try:
                for index, record in enumerate(_records(arena, arguments)):
                    tally.add(record)
                    progress.update(index + 1, tally.progress_text())
            except KeyboardInterrupt:
                progress.finish()
                print("\n".join(["interrupted", *tally.summary_lines()]))
                return 130
            progress.finish()
    except InvalidInput as error:
        return _refuse(error.message)
    print("\n".join(tally.summary_lines()))
    if arguments.replay is not None and tally.records[-1].replay is not None:
        _write_replay(arguments.replay, tally.records[-1].replay)
        print(f"replay of game {games} written to {arguments.replay}")
    return 1 if len(tally.played) < len(tally.records) else 0


def _records(arena: Arena, arguments: argparse.Namespace) -> Iterator[GameRecord]:
    """The games' records in their order, `--jobs` of them played at once."""
    from concurrent.futures import ThreadPoolExecutor

    games: int = arguments.games

    def play(index: int) -> GameRecord:
        return arena.play(
            index + 1,
            arguments.seed + index,
            a_first=(index % 2 == 0) != arguments.swap,
            record_replay=arguments.replay is not None and index == games - 1,
        )

    pool = ThreadPoolExecutor(max_workers=arguments.jobs, thread_name_prefix="play")
    try:
        # Submitted a few ahead only: an interrupted run stops soon, and leaves little to cancel.
        pending = deque(pool.submit(play, index) for index in range(min(games, 2 * arguments.jobs)))
        submitted = len(pending)
        while pending:
            record = pending.popleft().result()
            if submitted < games:
                pending.append(pool.submit(play, submitted))
                submitted += 1
            yield record
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _option_problem(arguments: argparse.Namespace) -> str:
    if arguments.games < 1:
        return "--games must be at least 1"
    if not 1 <= arguments.jobs <= 64:
        return "--jobs must be between 1 and 64"
    if arguments.seed < 0:
        return "--seed must not be negative"
    replay: Path | None = arguments.replay
    if replay is not None and not replay.parent.resolve().is_dir():
        return f"--replay {replay}: the folder {replay.parent} does not exist"
    return ""


def _refuse(message: str) -> int:
    print(f"rlarena play: {message}", file=sys.stderr)
    return 2


def _say_sandbox() -> None:
    from rlarena.sandbox import support

    missing = support.detect().missing
    if missing:
        print(f"note: agents run without the strict sandbox here (missing: {'; '.join(missing)})", file=sys.stderr)


def _write_replay(path: Path, replay: dict[str, object]) -> None:
    from rlarena.replays.html import render_html

    path.write_text(render_html(replay), encoding="utf-8")
