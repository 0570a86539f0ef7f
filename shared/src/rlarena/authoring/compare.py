"""`rlarena compare GAME NEW OLD`: does NEW beat OLD? Paired games and a sequential test.

Pair k plays seed S + k twice, NEW moving first and then OLD: the pair's score cancels most of the
luck of the side and the seed. After each pair the SPRT (rlarena.authoring.sprt) is updated; the run
stops as soon as it is decided, or after --games games, and says "NEW is stronger", "NEW is weaker"
(or "NEW is not stronger" when it scored half or more but not the elo1 hoped for) or "can't tell
yet", with the LLR and its bounds, the score and the Elo difference with their 95% intervals.
Exit status: 0 when the matches ran (whatever the verdict), 1 when the platform could not play
some, 2 for a bad game, agent or option.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from rlarena.authoring.games import add_game_argument

if TYPE_CHECKING:
    from rlarena.authoring.local_matches import Arena
    from rlarena.authoring.sprt import Sprt
    from rlarena.authoring.tally import Tally

SUMMARY = "does NEW beat OLD? paired matches and a sequential test (SPRT) that stops once it can tell"
AGENT_HELP = "a .py file, a folder, a .zip or .tar.gz, or a house agent (house:<name>)"


def configure(parser: argparse.ArgumentParser) -> None:
    add_game_argument(parser)
    parser.add_argument("new", metavar="NEW", help=AGENT_HELP)
    parser.add_argument("old", metavar="OLD", help=AGENT_HELP)
    parser.add_argument("--games", type=int, default=400, help="at most this many games, in pairs (default 400)")
    parser.add_argument("--seed", type=int, default=1, help="pair k plays seed S+k (default 1)")
    parser.add_argument("--elo0", type=float, default=0.0, help="H0: NEW - OLD = elo0 (default 0)")
    parser.add_argument("--elo1", type=float, default=10.0, help="H1: NEW - OLD = elo1 (default 10)")
    parser.add_argument("--alpha", type=float, default=0.05, help="false positive rate (default 0.05)")
    parser.add_argument("--beta", type=float, default=0.05, help="false negative rate (default 0.05)")


def run(arguments: argparse.Namespace) -> int:
    from rlarena.authoring.local_matches import local_arena
    from rlarena.authoring.sprt import Sprt, SprtParameters
    from rlarena.authoring.tally import Tally
    from rlarena.config import load_settings
    from rlarena.errors import InvalidInput

    if arguments.games < 2:
        return _refuse("--games must be at least 2 (games come in pairs)")
    try:
        parameters = SprtParameters(arguments.elo0, arguments.elo1, arguments.alpha, arguments.beta)
    except ValueError as error:
        return _refuse(str(error))
    test = Sprt(parameters)
    try:
        with local_arena(arguments.game, arguments.new, arguments.old, load_settings()) as arena:
            tally = Tally(arena.names, letters=("NEW", "OLD"))
            _play_pairs(arena, test, tally, pairs=arguments.games // 2, seed=arguments.seed)
    except InvalidInput as error:
        return _refuse(error.message)
    print("\n".join(_report(test, tally)))
    return 1 if len(tally.played) < len(tally.records) else 0


def _play_pairs(arena: Arena, test: Sprt, tally: Tally, *, pairs: int, seed: int) -> None:
    """Pair k: seed + k with NEW first, then with OLD first; stop once the test is decided."""
    from rlarena.authoring.progress import Progress
    from rlarena.authoring.sprt import Verdict

    progress = Progress(2 * pairs)
    names = f"NEW = {arena.names[0]}, OLD = {arena.names[1]}"
    print(f"{arena.game}: {names}, up to {2 * pairs} games", file=sys.stderr)
    try:
        for pair in range(pairs):
            first = arena.play(2 * pair + 1, seed + pair, a_first=True)
            tally.add(first)
            progress.update(2 * pair + 1, tally.progress_text())
            second = arena.play(2 * pair + 2, seed + pair, a_first=False)
            tally.add(second)
            if not (first.platform_error or second.platform_error):
                test.add_pair(first.a_score, second.a_score)
            progress.update(2 * pair + 2, f"{tally.progress_text()}, LLR {test.llr:+.2f}")
            if test.verdict is not Verdict.UNDECIDED:
                break
    except KeyboardInterrupt:  # the pairs so far still make a report
        print("interrupted", file=sys.stderr)
    finally:
        progress.finish()


def _report(test: Sprt, tally: Tally) -> list[str]:
    from rlarena.authoring.score_stats import describe_elo

    parameters = test.parameters
    llr = test.llr
    lines = [
        test.verdict.value,
        f"  LLR {llr:+.2f} (bounds {parameters.lower:+.2f} to {parameters.upper:+.2f}; "
        f"H0: Elo {parameters.elo0:g}, H1: Elo {parameters.elo1:g}, alpha {parameters.alpha:g}, "
        f"beta {parameters.beta:g})",
    ]
    if test.pairs:
        score = test.score()
        counts = " ".join(str(count) for count in test.counts)
        lines += [
            f"  {2 * test.pairs} games in {test.pairs} pairs (pairs scoring 0, 1/4, 1/2, 3/4, 1: {counts})",
            f"  score of NEW {score.mean:.3f} (95% CI {score.low:.3f} to {score.high:.3f}), "
            f"Elo {describe_elo(score.elo)} ({describe_elo(score.elo_low)} to {describe_elo(score.elo_high)})",
        ]
    return [*lines, *tally.summary_lines(with_score=False)]


def _refuse(message: str) -> int:
    print(f"rlarena compare: {message}", file=sys.stderr)
    return 2
