"""A starter agent for connect-four on RL Arena: win if it can, block if it must, never hand the
opponent a win by playing under its winning square, and prefer the central columns.
Standard library only; change anything you like.

The platform calls `agent(observation, configuration)` once per move and plays what it returns.

observation (what you see, from your own side):
    board          6 rows of 7 cells, the top row first: 0 empty, 1 yours, 2 your opponent's
    legal_actions  the columns that are not full (always choose one of these)
    action_mask    7 entries, 1 where a column has room
    player         0 or 1: which side you are (player 0 moves first)
    observation    PettingZoo's planes, 6x7x2 (your pieces, opponent's pieces), for learning agents
configuration: environment, player, step (moves played so far), max_steps, move_timeout_s, overage_s

An action is a column, 0 to 6; the piece falls to the lowest empty cell of that column.
"""

ROWS, COLUMNS = 6, 7
MINE, THEIRS = 1, 2
CENTRE_FIRST = (3, 2, 4, 1, 5, 0, 6)


def landing_row(board, column):
    """The row a piece dropped into `column` lands on (rows count from the top), or None if full."""
    for row in range(ROWS - 1, -1, -1):
        if board[row][column] == 0:
            return row
    return None


def wins(board, row, column, who):
    """Whether a piece of `who` at (row, column) makes four in a row."""
    for step_row, step_column in ((0, 1), (1, 0), (1, 1), (1, -1)):
        count = 1
        for direction in (1, -1):
            r, c = row + direction * step_row, column + direction * step_column
            while 0 <= r < ROWS and 0 <= c < COLUMNS and board[r][c] == who:
                count += 1
                r, c = r + direction * step_row, c + direction * step_column
        if count >= 4:
            return True
    return False


def winning_column(board, who, legal):
    for column in legal:
        row = landing_row(board, column)
        if row is not None and wins(board, row, column, who):
            return column
    return None


def gives_away_a_win(board, column):
    """Whether playing `column` lets the opponent win by playing on top of our piece."""
    row = landing_row(board, column)
    if row is None or row == 0:
        return False
    return wins(board, row - 1, column, THEIRS)


def agent(observation, configuration):
    board = observation["board"]
    legal = observation["legal_actions"]
    for who in (MINE, THEIRS):  # win first; else stop the opponent's win
        column = winning_column(board, who, legal)
        if column is not None:
            return column
    safe = [column for column in CENTRE_FIRST if column in legal and not gives_away_a_win(board, column)]
    if safe:
        return safe[0]
    return legal[0]
