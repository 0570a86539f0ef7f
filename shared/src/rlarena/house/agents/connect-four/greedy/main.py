"""House agent: wins when it can, blocks when it must, else prefers central columns.

The board arrives as 6 rows from the top (0 empty, 1 ours, 2 the opponent's); an action is the
column (0-6) to drop a piece into. It also avoids a column whose drop would let the opponent
win straight above it, when it has another choice.
"""

import random

ROWS, COLUMNS = 6, 7
DIRECTIONS = ((0, 1), (1, 0), (1, 1), (1, -1))
CENTRE_FIRST = (3, 2, 4, 1, 5, 0, 6)


def agent(observation, configuration):
    board = [list(row) for row in observation["board"]]
    legal = observation["legal_actions"]
    for mark in (1, 2):  # first a win of ours, then a win of theirs to block
        for column in legal:
            if _wins(board, _landing_row(board, column), column, mark):
                return column
    safe = [column for column in legal if not _gives_away(board, column)]
    choices = safe or legal
    best = min(CENTRE_FIRST.index(column) for column in choices)
    # A little variety between equally central columns, so games differ.
    equal = [column for column in choices if abs(CENTRE_FIRST.index(column) - best) <= 1]
    return random.choice(equal)


def _landing_row(board, column):
    for row in range(ROWS - 1, -1, -1):
        if board[row][column] == 0:
            return row
    return -1


def _wins(board, row, column, mark):
    """Would `mark` dropped at (row, column) make four in a row?"""
    if row < 0:
        return False
    for step_row, step_column in DIRECTIONS:
        count = 1
        for sign in (1, -1):
            r, c = row + sign * step_row, column + sign * step_column
            while 0 <= r < ROWS and 0 <= c < COLUMNS and board[r][c] == mark:
                count += 1
                r, c = r + sign * step_row, c + sign * step_column
        if count >= 4:
            return True
    return False


def _gives_away(board, column):
    row = _landing_row(board, column)
    if row <= 0:
        return False
    board[row][column] = 1
    try:
        return _wins(board, row - 1, column, 2)
    finally:
        board[row][column] = 0
