"""What a series of local matches adds up to, from agent A's side, as the lines `rlarena play`
and `rlarena compare` print: results, each agent's statuses, move times, score and Elo."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from rlarena.authoring.local_matches import GameRecord
from rlarena.authoring.score_stats import ScoreEstimate, describe_elo, estimate

STATUSES = ("OK", "ERROR", "TIMEOUT", "INVALID")
_ERROR_LINES = 6  # of an agent's first error (its traceback's end is what the author needs)


@dataclass
class Tally:
    names: tuple[str, str]  # A's, B's
    letters: tuple[str, str] = ("A", "B")  # what the lines call them ("NEW", "OLD" for compare)
    records: list[GameRecord] = field(default_factory=list)

    def add(self, record: GameRecord) -> None:
        self.records.append(record)

    @property
    def played(self) -> list[GameRecord]:
        """The matches the platform did play (a platform failure has no result)."""
        return [record for record in self.records if not record.platform_error]

    def results(self, records: list[GameRecord] | None = None) -> tuple[int, int, int]:
        """A's wins, draws and losses."""
        scores = Counter(record.a_score for record in (self.played if records is None else records))
        return scores[1.0], scores[0.5], scores[0.0]

    def score(self) -> ScoreEstimate:
        return estimate(Counter(record.a_score for record in self.played))

    def status_counts(self, side: int) -> Counter[str]:
        return Counter(record.statuses[side] for record in self.played)

    def progress_text(self) -> str:
        wins, draws, losses = self.results()
        return f"{self.letters[0]} {wins} won, {draws} drawn, {losses} lost"

    def summary_lines(self, *, with_score: bool = True) -> list[str]:
        """`with_score=False` leaves out the per-game score, for a caller that shows a better one."""
        games = f"{len(self.played)} game" + ("" if len(self.played) == 1 else "s")
        lines = [f"{games}: {self.letters[0]} = {self.names[0]}, {self.letters[1]} = {self.names[1]}"]
        if not self.played:
            return [*lines, *self._platform_errors()]
        a = self.letters[0]
        wins, draws, losses = self.results()
        lines.append(f"{a}: {wins} won, {draws} drawn, {losses} lost")
        for side in (0, 1):
            as_side = [record for record in self.played if record.a_player == side]
            if as_side:
                won, drawn, lost = self.results(as_side)
                lines.append(f"  {a} as player {side}: {won} won, {drawn} drawn, {lost} lost")
        for side, letter in enumerate(self.letters):
            lines.append(f"status of {letter}: {self._statuses(side)}")
        for side, letter in enumerate(self.letters):
            lines.append(f"move time of {letter}: {self._move_times(side)}")
        if with_score:
            score = self.score()
            lines.append(
                f"score of {a}: {score.mean:.3f} (95% CI {score.low:.3f} to {score.high:.3f}); "
                f"Elo difference {describe_elo(score.elo)} "
                f"({describe_elo(score.elo_low)} to {describe_elo(score.elo_high)})"
            )
        reasons = Counter(record.reason for record in self.played)
        lines.append(
            "ended by: " + ", ".join(f"{reason or 'unknown'} {count}" for reason, count in reasons.most_common())
        )
        return [*lines, *self._first_errors(), *self._platform_errors()]

    def _statuses(self, side: int) -> str:
        counts = self.status_counts(side)
        return ", ".join(f"{status} {counts[status]}" for status in STATUSES)

    def _move_times(self, side: int) -> str:
        times = sorted(time for record in self.played for time in record.move_times[side])
        if not times:
            return "no moves"
        p50, p95 = _percentile(times, 0.50), _percentile(times, 0.95)
        return f"p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms ({len(times)} moves)"

    def _first_errors(self) -> list[str]:
        lines = []
        for side, letter in enumerate(self.letters):
            failed = next((record for record in self.played if record.statuses[side] != "OK"), None)
            if failed is None:
                continue
            message = failed.errors[side].strip().splitlines()
            shown = message[:1] + (["  ..."] if len(message) > _ERROR_LINES else []) + message[1:][-_ERROR_LINES:]
            lines.append(
                f"first failure of {letter} (game {failed.number}, seed {failed.seed}, {failed.statuses[side]}):"
            )
            lines.extend(f"  {line}" for line in shown)
        return lines

    def _platform_errors(self) -> list[str]:
        failed = [record for record in self.records if record.platform_error]
        if not failed:
            return []
        return [f"{len(failed)} match(es) could not be played: {failed[0].platform_error}"]


def _percentile(ordered: list[float], fraction: float) -> float:
    """Nearest rank on sorted values."""
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]
