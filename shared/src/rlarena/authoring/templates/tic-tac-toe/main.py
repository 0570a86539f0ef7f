"""A starter agent for tic-tac-toe on RL Arena: win if it can, block if it must, else take the
centre, then a corner, then a side. Standard library only; change anything you like.

The platform calls `agent(observation, configuration)` once per move and plays what it returns.

observation (what you see, from your own side):
    board          3 rows of 3 cells: 0 empty, 1 yours, 2 your opponent's
    legal_actions  the cells you may mark now (always choose one of these)
    action_mask    9 entries, 1 where a cell is free
    player         0 or 1: which side you are (player 0 moves first)
    observation    PettingZoo's planes, 3x3x2 (your marks, opponent's marks), for learning agents
configuration: environment, player, step (moves played so far), max_steps, move_timeout_s, overage_s

An action is a cell number, counted down the columns: cell = 3 * column + row.
"""

# Every line of three cells, as (row, column) pairs.
LINES = (
    [[(row, column) for column in range(3)] for row in range(3)]
    + [[(row, column) for row in range(3)] for column in range(3)]
    + [[(0, 0), (1, 1), (2, 2)], [(0, 2), (1, 1), (2, 0)]]
)
MINE, THEIRS = 1, 2
# Centre first, then corners, then sides: the cells that sit on the most lines.
PREFERRED = (4, 0, 2, 6, 8, 1, 3, 5, 7)


def cell_of(row, column):
    """The action number of a cell: PettingZoo numbers cells down the columns."""
    return 3 * column + row


def completing_cell(board, who, legal):
    """A legal cell that gives `who` three in a row, or None."""
    for line in LINES:
        marks = [board[row][column] for row, column in line]
        if marks.count(who) == 2 and marks.count(0) == 1:
            row, column = line[marks.index(0)]
            if cell_of(row, column) in legal:
                return cell_of(row, column)
    return None


def agent(observation, configuration):
    board = observation["board"]
    legal = observation["legal_actions"]
    win = completing_cell(board, MINE, legal)
    if win is not None:
        return win
    block = completing_cell(board, THEIRS, legal)
    if block is not None:
        return block
    for cell in PREFERRED:
        if cell in legal:
            return cell
    return legal[0]
