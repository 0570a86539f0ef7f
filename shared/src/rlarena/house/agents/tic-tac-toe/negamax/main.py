"""House agent: perfect tic-tac-toe by full-depth negamax; it never loses.

The board arrives as rows (0 empty, 1 ours, 2 the opponent's); an action names a cell
column-major: action = 3 * column + row. Inside, a position is a tuple of 9 cells read row by row
(index = 3 * row + column) from the side to move: 1 is always the mover's mark, 2 the other's.
The game tree is small (under 6,000 positions), so every value is computed once and cached.
"""

from functools import cache

LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))
# Ties between equally good moves go to the centre, then corners: the strongest against mistakes.
PREFERENCE = (4, 0, 2, 6, 8, 1, 3, 5, 7)


def agent(observation, configuration):
    position = tuple(cell for row in observation["board"] for cell in row)
    legal = {3 * (action % 3) + action // 3: action for action in observation["legal_actions"]}
    best = max((index for index in PREFERENCE if index in legal), key=lambda index: -_value(_after(position, index)))
    return legal[best]


@cache
def _value(position):
    """For the side to move: + (1 + empty cells) for a win (sooner is better), 0 a draw, - a loss."""
    if any(all(position[cell] == 2 for cell in line) for line in LINES):
        return -(1 + position.count(0))  # the player who just moved completed a line
    if 0 not in position:
        return 0
    return max(-_value(_after(position, index)) for index in range(9) if position[index] == 0)


def _after(position, index):
    """The position after the mover marks `index`, seen from the other side (so 1 <-> 2)."""
    marked = (*position[:index], 1, *position[index + 1 :])
    return tuple((0, 2, 1)[cell] for cell in marked)
