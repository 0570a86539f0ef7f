"""Who plays whom in one matchmaking tick: pure rules, no I/O.

Each waiting agent accepts opponents within a rating window that starts at +-initial_window and
widens by window_step for every wait_interval it has waited, up to +-max_window. A pair is
allowed when the rating difference is inside both agents' windows and neither has the other
among its recent opponents.

Agents are served in priority order (new agents first, then the longest waiting), and each takes
the closest allowed opponent still free. Windows come in a handful of sizes, so the free agents
are kept in one rating-sorted list per window size; the closest allowed opponent in a list is
found by bisection plus "next free" pointers. Skipping over an agent happens only for a recent
opponent, so a tick costs O(n log n) for n candidates (times the number of window sizes, a
constant of the policy).

Placement: a new agent (fewer than new_agent_games rated matches) is not paired with the nearest
rating but with the free agent nearest to a target that cycles through the field's rating
quantiles (`placement_target`: the median, then near the top, near the bottom...), windows
aside, so its first games measure it against a spread of strengths.

House agents (shipped with the platform, `Candidate.house`) are anchors, not seekers: they never
choose, never meet each other, and are never used up. A new agent's placement may pick one; an
established agent falls back on the closest allowed house agent only when no author's agent is
free for it. One house agent may so be in several pairings of a tick.
"""

from __future__ import annotations

import math
import uuid
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple


class Candidate(NamedTuple):
    """A waiting agent as pairing sees it. A tuple: a tick builds one per waiting agent (100,000
    of them in the benchmark), and a tuple is several times cheaper to make than a dataclass."""

    agent_id: uuid.UUID
    rating: int  # Elo
    waited: float  # seconds since it joined the queue
    games_played: int  # the agent's total matches
    last_side: int | None  # 1 or 2: the side it played in its last match
    recent_opponents: frozenset[uuid.UUID]  # no immediate rematch against these
    house: bool = False  # a house agent: an anchor any number of agents may meet in one tick


@dataclass(frozen=True)
class PairingPolicy:
    initial_window: int = 100
    window_step: int = 100
    max_window: int = 500
    wait_interval: float = 30.0  # seconds per widening step
    new_agent_games: int = 10  # agents below this many games are matched first, for placement

    def __post_init__(self) -> None:
        if self.initial_window < 0 or self.window_step < 0:
            raise ValueError("rating windows cannot be negative")
        if self.max_window < self.initial_window:
            raise ValueError("max_window must be at least initial_window")
        if not self.wait_interval > 0:
            raise ValueError("wait_interval must be a positive number of seconds")


@dataclass(frozen=True)
class Pairing:
    first: uuid.UUID  # plays side 1
    second: uuid.UUID  # plays side 2


def window_of(candidate: Candidate, policy: PairingPolicy) -> int:
    """The +- rating distance this candidate accepts now."""
    return _windows(policy)(_waited(candidate))


def _windows(policy: PairingPolicy) -> Callable[[float], int]:
    """The window for a wait (a non-negative number of seconds), with the policy's sums done once."""
    if policy.window_step == 0:
        return lambda waited: policy.initial_window
    # Past this wait the window is at its widest (also for an endless wait, which // cannot take).
    widest_after = math.ceil((policy.max_window - policy.initial_window) / policy.window_step) * policy.wait_interval

    def window(waited: float) -> int:
        if waited >= widest_after:
            return policy.max_window
        return min(policy.max_window, policy.initial_window + int(waited // policy.wait_interval) * policy.window_step)

    return window


def allowed(a: Candidate, b: Candidate, policy: PairingPolicy) -> bool:
    """Whether a and b may be paired: distinct, within both windows, not recent opponents."""
    return (
        a.agent_id != b.agent_id
        and abs(a.rating - b.rating) <= min(window_of(a, policy), window_of(b, policy))
        and not _recent(a, b)
    )


def pair(candidates: Sequence[Candidate], policy: PairingPolicy, *, limit: int | None = None) -> list[Pairing]:
    """Pairings for one tick, highest-priority seeker first; an author's agent appears at most
    once, a house agent in as many pairings as chose it.

    The result depends only on the candidates, not on their order in `candidates`. With `limit`,
    the first `limit` of the same pairings (a tick's cap): the seekers after them are not served.
    """
    ordered = sorted((c for c in candidates if not c.house), key=lambda c: _priority(c, policy))
    house = _House([c for c in candidates if c.house], policy)
    # From here on an agent is its index in priority order: ints hash far faster than UUIDs.
    index = {c.agent_id.int: i for i, c in enumerate(ordered)}
    if len(index) != len(ordered) or house.ids & index.keys():
        raise ValueError("each agent may be a candidate only once")
    field = _Field(ordered, index, policy)
    spread = sorted(c.rating for c in candidates)
    taken = bytearray(len(ordered))
    pairings: list[Pairing] = []
    for seeker in range(len(ordered)):
        if limit is not None and len(pairings) >= limit:
            break
        if taken[seeker]:
            continue
        taken[seeker] = 1
        field.remove(seeker)
        me = ordered[seeker]
        if me.games_played < policy.new_agent_games:
            opponent, anchor = _placement(me, seeker, field, house, placement_target(me.games_played, spread))
        else:
            opponent = field.closest(seeker)
            anchor = house.nearest(me.rating, me, field.window(seeker)) if opponent is None else None
        if opponent is not None:
            taken[opponent] = 1
            field.remove(opponent)
            pairings.append(_sides(me, ordered[opponent]))
        elif anchor is not None:
            pairings.append(_sides(me, anchor))
    return pairings


# A new agent's n-th placement game aims at the n-th of these quantiles of the field's ratings
# (cycling): the middle first, then both ends, then in between.
PLACEMENT_QUANTILES = (0.5, 1.0, 0.0, 0.75, 0.25)


def placement_target(games_played: int, ratings: Sequence[int]) -> int:
    """The rating a new agent's next opponent should be nearest to, given the field's ratings
    in ascending order (not empty)."""
    quantile = PLACEMENT_QUANTILES[max(games_played, 0) % len(PLACEMENT_QUANTILES)]
    return ratings[round(quantile * (len(ratings) - 1))]


def _placement(
    me: Candidate, seeker: int, field: _Field, house: _House, target: int
) -> tuple[int | None, Candidate | None]:
    """The free agent nearest to `target`, windows aside (an author's agent at a tie)."""
    opponent = field.nearest_to(target, seeker)
    anchor = house.nearest(target, me)
    if anchor is None or (opponent is not None and field.distance(opponent, target) <= abs(anchor.rating - target)):
        return opponent, None
    return None, anchor


def _waited(candidate: Candidate) -> float:
    # A negative (clock skew) or NaN wait counts as none.
    return candidate.waited if candidate.waited > 0 else 0.0


def _priority(candidate: Candidate, policy: PairingPolicy) -> tuple[bool, float, int, int]:
    """New agents first, then the longest waiting, then the fewest games; the id settles ties."""
    is_new = candidate.games_played < policy.new_agent_games
    return (not is_new, -_waited(candidate), candidate.games_played, candidate.agent_id.int)


def _recent(a: Candidate, b: Candidate) -> bool:
    return b.agent_id in a.recent_opponents or a.agent_id in b.recent_opponents


def _sides(seeker: Candidate, opponent: Candidate) -> Pairing:
    """Each agent wants the side it did not play last; if both want the same, the seeker gets it."""
    seeker_wants_second = seeker.last_side == 1
    opponent_wants_first = opponent.last_side == 2 and seeker.last_side != 2
    if seeker_wants_second or opponent_wants_first:
        return Pairing(first=opponent.agent_id, second=seeker.agent_id)
    return Pairing(first=seeker.agent_id, second=opponent.agent_id)


_NONE: frozenset[int] = frozenset()
_UNBOUNDED = 1 << 62  # a radius wider than any two ratings can be apart


class _House:
    """The house agents of a tick: few, never used up, searched in full."""

    def __init__(self, anchors: list[Candidate], policy: PairingPolicy) -> None:
        window_for = _windows(policy)
        # Rating order, then id: the same anchor wins a tie whatever the input order.
        self._anchors = sorted(
            ((a, window_for(_waited(a))) for a in anchors), key=lambda e: (e[0].rating, e[0].agent_id.int)
        )
        self.ids = {a.agent_id.int for a in anchors}
        if len(self.ids) != len(anchors):
            raise ValueError("each agent may be a candidate only once")

    def nearest(self, target: int, seeker: Candidate, window: int | None = None) -> Candidate | None:
        """The house agent nearest to `target` that is not the seeker's recent opponent; with the
        seeker's `window`, only one inside both windows. At equal distance the lower rating."""
        fits = [
            (abs(anchor.rating - target), i, anchor)
            for i, (anchor, own) in enumerate(self._anchors)
            if not _recent(seeker, anchor) and (window is None or abs(anchor.rating - target) <= min(window, own))
        ]
        return min(fits)[2] if fits else None


class _Field:
    """The free candidates, in one rating-sorted pool per window size."""

    def __init__(self, ordered: list[Candidate], index: dict[int, int], policy: PairingPolicy) -> None:
        self._ratings = [c.rating for c in ordered]
        window_for = _windows(policy)
        self._windows = [window_for(_waited(c)) for c in ordered]
        # Recent opponents as indices, both ways: a rematch is refused whoever remembers it.
        self._recent: dict[int, set[int]] = {}
        for i, candidate in enumerate(ordered):
            for other in candidate.recent_opponents:
                j = index.get(other.int)
                if j is not None and j != i:
                    self._recent.setdefault(i, set()).add(j)
                    self._recent.setdefault(j, set()).add(i)
        by_window: dict[int, list[int]] = {}
        for i, window in enumerate(self._windows):
            by_window.setdefault(window, []).append(i)
        # Widest window first: at equal distance the opponent who has waited longer is preferred.
        # Members are in priority order, and the sort is stable: equal ratings stay in that order.
        self._pools = [
            (size, _Pool(sorted(members, key=self._ratings.__getitem__), self._ratings))
            for size, members in sorted(by_window.items(), reverse=True)
        ]
        self._pool_of = {window: pool for window, pool in self._pools}

    def remove(self, member: int) -> None:
        self._pool_of[self._windows[member]].remove(member)

    def window(self, member: int) -> int:
        return self._windows[member]

    def distance(self, member: int, rating: int) -> int:
        return abs(self._ratings[member] - rating)

    def nearest_to(self, target: int, seeker: int) -> int | None:
        """The free opponent (not a recent one) nearest to `target`, whatever the windows; at equal
        distance as `closest` decides."""
        recent = self._recent.get(seeker, _NONE)
        best: tuple[int, int] | None = None
        for _, pool in self._pools:
            found = pool.nearest(target, _UNBOUNDED if best is None else best[0] - 1, recent)
            if found is not None:
                best = found
        return None if best is None else best[1]

    def closest(self, seeker: int) -> int | None:
        """The free, allowed opponent nearest in rating. At equal distance: the one with the wider
        window (it has waited longer), then the lower rating, then the one first in line."""
        rating, own_window, recent = self._ratings[seeker], self._windows[seeker], self._recent.get(seeker, _NONE)
        best: tuple[int, int] | None = None  # (distance, member)
        for window, pool in self._pools:
            radius = min(own_window, window) if best is None else min(own_window, window, best[0] - 1)
            if radius < 0:
                break
            found = pool.nearest(rating, radius, recent)
            if found is not None:
                best = found
        return None if best is None else best[1]


class _Pool:
    """Candidates of one window size, sorted by rating, with near-constant removal and
    nearest-free lookups.

    `_right[s]` / `_left[s + 1]` point towards the nearest free slot at or after / at or before
    slot s (path-compressed, as in union-find); slot n on the right and slot -1 on the left are
    sentinels that are never taken.
    """

    def __init__(self, members: list[int], ratings: list[int]) -> None:
        self._members = members
        self._ratings = [ratings[m] for m in members]
        self._slot = {m: s for s, m in enumerate(members)}
        self._right = list(range(len(members) + 1))
        self._left = list(range(len(members) + 1))

    def remove(self, member: int) -> None:
        slot = self._slot[member]
        self._right[slot] = slot + 1
        self._left[slot + 1] = slot

    def nearest(self, rating: int, radius: int, recent: set[int] | frozenset[int]) -> tuple[int, int] | None:
        """(distance, member) of the nearest free member within `radius` that is not in `recent`;
        at equal distance the lower rating, then the one first in line. Each skip costs one recent pair."""
        best: tuple[int, int] | None = None
        start = bisect_left(self._ratings, rating)
        slot = self._find_right(start)
        while slot < len(self._members) and self._ratings[slot] - rating <= radius:
            if self._members[slot] not in recent:
                best = (self._ratings[slot] - rating, self._members[slot])
                radius = best[0]  # below wins a tie
                break
            slot = self._find_right(slot + 1)
        slot = self._find_left(start - 1)
        while slot >= 0 and rating - self._ratings[slot] <= radius:
            if self._members[slot] not in recent:
                return (rating - self._ratings[slot], self._members[slot])
            slot = self._find_left(slot - 1)
        return best

    def _find_right(self, slot: int) -> int:
        root = slot
        while self._right[root] != root:
            root = self._right[root]
        while self._right[slot] != root:
            self._right[slot], slot = root, self._right[slot]
        return root

    def _find_left(self, slot: int) -> int:
        """The nearest free slot at or before `slot`, or -1."""
        root = slot + 1
        while self._left[root] != root:
            root = self._left[root]
        node = slot + 1
        while self._left[node] != root:
            self._left[node], node = root, self._left[node]
        return root - 1
