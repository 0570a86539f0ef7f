"""House agent: negamax with alpha-beta pruning and a line-counting evaluation.

The board arrives as 6 rows from the top (0 empty, 1 ours, 2 the opponent's); an action is the
column (0-6) to drop a piece into. The search deepens one ply at a time (iterative deepening)
until MAX_DEPTH or until TIME_BUDGET_S is spent, and plays the best move of the deepest search
it finished: well inside the 2 s move limit on a slow machine.

Evaluation, from the side to move: every window of four cells that only one side occupies scores
for that side (1, 4 or 16 for one, two or three pieces), plus a little for pieces in the centre
column. A win scores WIN plus the plies left, so a sooner win is worth more.
"""

import time

ROWS, COLUMNS = 6, 7
MAX_DEPTH = 8
TIME_BUDGET_S = 0.5
WIN = 1_000_000
ORDER = (3, 2, 4, 1, 5, 0, 6)  # central columns first: better moves first, more cut-offs
WINDOW_SCORES = (0, 1, 4, 16)


def _windows():
    """Every line of four cells, as indexes into the flat board (index = row * COLUMNS + column)."""
    lines = []
    for row in range(ROWS):
        for column in range(COLUMNS):
            for step_row, step_column in ((0, 1), (1, 0), (1, 1), (1, -1)):
                end_row, end_column = row + 3 * step_row, column + 3 * step_column
                if 0 <= end_row < ROWS and 0 <= end_column < COLUMNS:
                    lines.append(tuple((row + k * step_row) * COLUMNS + column + k * step_column for k in range(4)))
    return tuple(lines)


WINDOWS = _windows()
WINDOWS_THROUGH = tuple(tuple(w for w in WINDOWS if cell in w) for cell in range(ROWS * COLUMNS))


class OutOfTime(Exception):
    pass


def agent(observation, configuration):
    # Inside the search, 1 is always the side to move and 2 the other: a move flips the board.
    cells = [cell for row in observation["board"] for cell in row]
    legal = [column for column in ORDER if column in observation["legal_actions"]]
    deadline = time.monotonic() + TIME_BUDGET_S
    best = legal[0]
    for depth in range(1, MAX_DEPTH + 1):
        try:
            best, value = _root(cells, legal, depth, first=best, deadline=deadline)
        except OutOfTime:
            break
        if abs(value) >= WIN:  # a forced win or loss is found: searching deeper changes nothing
            break
    return best


def _root(cells, legal, depth, *, first, deadline):
    best, alpha = first, -2 * WIN
    for column in [first] + [c for c in legal if c != first]:
        cell = _drop(cells, column)
        value = -_negamax(_flipped(cells), depth - 1, -2 * WIN, -alpha, cell, deadline=deadline)
        cells[cell] = 0
        if value > alpha:
            best, alpha = column, value
    return best, alpha


def _negamax(cells, depth, alpha, beta, last, *, deadline):
    """The value for the side to move; `last` is the cell the opponent just filled."""
    if any(all(cells[i] == 2 for i in window) for window in WINDOWS_THROUGH[last]):
        return -(WIN + depth)
    if 0 not in cells[:COLUMNS]:
        return 0  # the board is full
    if depth == 0:
        return _evaluate(cells)
    if time.monotonic() > deadline:
        raise OutOfTime
    for column in ORDER:
        if cells[column] != 0:
            continue
        cell = _drop(cells, column)
        value = -_negamax(_flipped(cells), depth - 1, -beta, -alpha, cell, deadline=deadline)
        cells[cell] = 0
        if value >= beta:
            return value
        alpha = max(alpha, value)
    return alpha


def _drop(cells, column):
    """Put the mover's piece (1) in `column`; the cell it landed in."""
    for row in range(ROWS - 1, -1, -1):
        cell = row * COLUMNS + column
        if cells[cell] == 0:
            cells[cell] = 1
            return cell
    raise ValueError(f"column {column} is full")


def _flipped(cells):
    return [(0, 2, 1)[cell] for cell in cells]


def _evaluate(cells):
    score = 0
    for window in WINDOWS:
        mine = theirs = 0
        for i in window:
            if cells[i] == 1:
                mine += 1
            elif cells[i] == 2:
                theirs += 1
        if theirs == 0:
            score += WINDOW_SCORES[mine]
        elif mine == 0:
            score -= WINDOW_SCORES[theirs]
    centre = cells[3::COLUMNS]
    return score + 2 * (centre.count(1) - centre.count(2))
