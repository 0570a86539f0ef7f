"""A starter agent for chess on RL Arena: no search, just a score for every legal move. It takes
the most valuable piece it can (with the cheapest attacker), promotes to a queen, gives check,
pushes pawns towards promotion, and avoids squares an enemy pawn guards; ties are broken at random.
Standard library only: a search (minimax with alpha-beta) is the natural next step.

The platform calls `agent(observation, configuration)` once per move and plays what it returns.

observation:
    fen            the position in FEN (the board, whose turn, castling, en passant, clocks)
    legal_moves    the legal moves in UCI ("e2e4", "e7e8q"); legal_moves[i] is legal_actions[i]
    legal_actions  the same moves as PettingZoo's action integers: return one of these
    player         0 (white) or 1 (black)
    (the 8x8x111 planes and the 4672-entry action_mask are sent too, for learning agents)
configuration: environment, player, step (plies played so far), max_steps, move_timeout_s, overage_s

Return an integer from legal_actions: find the move you chose in legal_moves, return the action
at the same index.
"""

import random

VALUES = {"p": 1, "n": 3, "b": 3, "r": 5, "q": 9, "k": 0}
FILES = "abcdefgh"
KNIGHT_JUMPS = ((1, 2), (2, 1), (2, -1), (1, -2), (-1, -2), (-2, -1), (-2, 1), (-1, 2))
ROOK_LINES = ((1, 0), (-1, 0), (0, 1), (0, -1))
BISHOP_LINES = ((1, 1), (1, -1), (-1, 1), (-1, -1))


def parse_board(fen):
    """{(file, rank): piece letter} with file and rank 0-7; white pieces are capitals, as in FEN."""
    board = {}
    for row, text in enumerate(fen.split()[0].split("/")):
        file = 0
        for symbol in text:
            if symbol.isdigit():
                file += int(symbol)
            else:
                board[(file, 7 - row)] = symbol
                file += 1
    return board


def square(name):
    return FILES.index(name[0]), int(name[1]) - 1


def is_white(piece):
    return piece.isupper()


def attacks(board, origin, target):
    """Whether the piece on `origin` attacks `target` on `board` (blockers included)."""
    piece = board[origin].lower()
    dx, dy = target[0] - origin[0], target[1] - origin[1]
    if piece == "n":
        return (dx, dy) in KNIGHT_JUMPS
    if piece == "k":
        return max(abs(dx), abs(dy)) == 1
    if piece == "p":
        forward = 1 if is_white(board[origin]) else -1
        return dy == forward and abs(dx) == 1
    lines = {"r": ROOK_LINES, "b": BISHOP_LINES, "q": ROOK_LINES + BISHOP_LINES}[piece]
    for step_x, step_y in lines:
        x, y = origin[0] + step_x, origin[1] + step_y
        while 0 <= x < 8 and 0 <= y < 8:
            if (x, y) == target:
                return True
            if (x, y) in board:
                break
            x, y = x + step_x, y + step_y
    return False


def guarded_by_enemy_pawn(board, target, white):
    """Whether a pawn of the other side attacks `target`."""
    enemy_pawn, toward_us = ("p", 1) if white else ("P", -1)
    return any(board.get((target[0] + dx, target[1] + toward_us)) == enemy_pawn for dx in (-1, 1))


def score(board, move, white):
    """How much we like `move` (higher is better)."""
    origin, target = square(move[:2]), square(move[2:4])
    mover = board[origin]
    victim = board.get(target)
    value = 0.0
    if victim is not None:
        value += 10 * VALUES[victim.lower()] - VALUES[mover.lower()]
    if len(move) == 5:  # a promotion: "e7e8q"
        value += 80 if move[4] == "q" else -10
    after = dict(board)
    del after[origin]
    promoted = "" if len(move) == 4 else move[4].upper() if white else move[4]
    after[target] = promoted or mover
    enemy_king = next((place for place, piece in after.items() if piece == ("k" if white else "K")), None)
    if enemy_king is not None and attacks(after, target, enemy_king):
        value += 3
    if mover.lower() == "p":
        value += 0.2 * (target[1] if white else 7 - target[1])  # on towards promotion
    elif guarded_by_enemy_pawn(board, target, white):
        value -= VALUES[mover.lower()]  # a pawn would take it for free
    if mover.lower() == "k":
        value -= 1  # keep the king home while there is anything else to do
    return value + random.random() * 0.1  # break ties, so the game does not repeat itself


def agent(observation, configuration):
    board = parse_board(observation["fen"])
    white = observation["fen"].split()[1] == "w"
    moves = observation["legal_moves"]
    best = max(range(len(moves)), key=lambda i: score(board, moves[i], white))
    return observation["legal_actions"][best]
