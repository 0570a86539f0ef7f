"""House agent: wins when it can, blocks when it must, else prefers the centre, then corners.

The board arrives as rows (0 empty, 1 ours, 2 the opponent's); an action names a cell
column-major: action = 3 * column + row.
"""

import random

ROW_LINES = tuple(tuple((row, column) for column in range(3)) for row in range(3))
COLUMN_LINES = tuple(tuple((row, column) for row in range(3)) for column in range(3))
DIAGONALS = (((0, 0), (1, 1), (2, 2)), ((0, 2), (1, 1), (2, 0)))
LINES = ROW_LINES + COLUMN_LINES + DIAGONALS
CENTRE, CORNERS = (1, 1), ((0, 0), (0, 2), (2, 0), (2, 2))


def agent(observation, configuration):
    board = observation["board"]
    free = [(action % 3, action // 3) for action in observation["legal_actions"]]  # (row, column)
    for mark in (1, 2):  # first a win of ours, then a win of theirs to block
        for row, column in free:
            if _completes_line(board, row, column, mark):
                return _action(row, column)
    if CENTRE in free:
        return _action(*CENTRE)
    corners = [cell for cell in free if cell in CORNERS]
    return _action(*random.choice(corners or free))


def _completes_line(board, row, column, mark):
    for line in LINES:
        if (row, column) in line and all(board[r][c] == mark for r, c in line if (r, c) != (row, column)):
            return True
    return False


def _action(row, column):
    return 3 * column + row
