"""House agent: a small chess engine, an alpha-beta search on material in pure Python.

The observation holds `fen` (the position) and `legal_moves`, where legal_moves[i] is the UCI
text ("e2e4", "e7e8q") of legal_actions[i], the integer to answer with. The root moves are those
legal moves; below the root the engine generates its own pseudo-legal moves (no castling, no en
passant, promotion to a queen) and treats capturing a king as the end of the game, which is
enough to see checkmates and to avoid leaving pieces hanging.

The search deepens one ply at a time (two, then three) while TIME_BUDGET_S lasts, and each line
ends in a capture-only search (quiescence), so a hanging piece is seen whatever the depth.
Evaluation, for the side to move: material, central knights and bishops, advanced pawns and,
once ahead, the enemy king driven to the edge (to finish won games).
"""

import time

TIME_BUDGET_S = 0.4
MAX_DEPTH = 3
QUIESCENCE_DEPTH = 4
VALUES = {"P": 100, "N": 320, "B": 330, "R": 500, "Q": 900, "K": 0}
MATE = 100_000
KNIGHT_STEPS = ((1, 2), (2, 1), (2, -1), (1, -2), (-1, -2), (-2, -1), (-2, 1), (-1, 2))
KING_STEPS = ((1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1))
RAYS = {"B": KING_STEPS[1::2], "R": KING_STEPS[0::2], "Q": KING_STEPS}


class OutOfTime(Exception):
    pass


def agent(observation, configuration):
    board, white = _parse(observation["fen"])
    moves = [(_square(move[0:2]), _square(move[2:4]), move[4:].upper() or None) for move in observation["legal_moves"]]
    actions = dict(zip(moves, observation["legal_actions"], strict=True))
    deadline = time.monotonic() + TIME_BUDGET_S
    best = max(moves, key=lambda move: _capture_order(board, move))
    for depth in range(2, MAX_DEPTH + 1):
        try:
            best = _root(board, white, moves, depth, first=best, deadline=deadline)
        except OutOfTime:
            break
    return actions[best]


# --- the board: a list of 64 squares, a1 = 0, b1 = 1 ... h8 = 63; "." empty, upper case white ---


def _parse(fen):
    placement, side = fen.split()[:2]
    board = []
    for rank in reversed(placement.split("/")):
        for char in rank:
            board.extend("." * int(char) if char.isdigit() else char)
    return board, side == "w"


def _square(name):
    return "abcdefgh".index(name[0]) + 8 * (int(name[1]) - 1)


def _is_own(piece, white):
    return piece != "." and piece.isupper() == white


def _play(board, move):
    """A new board after `move` (from, to, promotion); castling and en passant of root moves too."""
    start, end, promotion = move
    after = board[:]
    piece = after[start]
    if piece in "Pp" and start % 8 != end % 8 and after[end] == ".":  # en passant
        after[start - start % 8 + end % 8] = "."
    if piece in "Kk" and abs(end - start) == 2:  # castling: the rook jumps over the king
        rook_from, rook_to = (start + 3, start + 1) if end > start else (start - 4, start - 1)
        after[rook_to], after[rook_from] = after[rook_from], "."
    if promotion or (piece in "Pp" and end // 8 in (0, 7)):
        piece = (promotion or "Q") if piece.isupper() else (promotion or "Q").lower()
    after[start], after[end] = ".", piece
    return after


def _moves(board, white):
    """Pseudo-legal moves of one side: (from, to, promotion or None)."""
    moves = []
    for start, piece in enumerate(board):
        if not _is_own(piece, white):
            continue
        kind, rank, file = piece.upper(), start // 8, start % 8
        if kind == "P":
            moves.extend(_pawn_moves(board, white, start, rank, file))
        elif kind in "NK":
            for step_rank, step_file in KNIGHT_STEPS if kind == "N" else KING_STEPS:
                r, f = rank + step_rank, file + step_file
                if 0 <= r < 8 and 0 <= f < 8 and not _is_own(board[8 * r + f], white):
                    moves.append((start, 8 * r + f, None))
        else:
            for step_rank, step_file in RAYS[kind]:
                r, f = rank + step_rank, file + step_file
                while 0 <= r < 8 and 0 <= f < 8:
                    target = board[8 * r + f]
                    if _is_own(target, white):
                        break
                    moves.append((start, 8 * r + f, None))
                    if target != ".":
                        break
                    r, f = r + step_rank, f + step_file
    return moves


def _pawn_moves(board, white, start, rank, file):
    forward, home, last = (8, 1, 7) if white else (-8, 6, 0)
    promotion = "Q" if rank + forward // 8 == last else None
    ahead = start + forward
    if board[ahead] == ".":
        yield start, ahead, promotion
        if rank == home and board[ahead + forward] == ".":
            yield start, ahead + forward, None
    for side in (-1, 1):
        if 0 <= file + side < 8:
            target = board[ahead + side]
            if target != "." and not _is_own(target, white):
                yield start, ahead + side, promotion


def _captures_king(board, move):
    return board[move[1]] in "Kk"


def _capture_order(board, move):
    """Most valuable victim first, least valuable attacker second: the moves most likely to cut."""
    victim = board[move[1]]
    if victim == ".":
        return 0 if move[2] is None else 800
    return 10 * (VALUES[victim.upper()] + (MATE if victim in "Kk" else 0)) - VALUES[board[move[0]].upper()] // 10


# --- search: negamax with alpha-beta; every value is for the side to move ---


def _root(board, white, moves, depth, *, first, deadline):
    best, alpha = first, -2 * MATE
    ordered = [first, *sorted((m for m in moves if m != first), key=lambda m: -_capture_order(board, m))]
    for move in ordered:
        value = -_search(_play(board, move), not white, depth - 1, -2 * MATE, -alpha, deadline=deadline)
        if value > alpha:
            best, alpha = move, value
    return best


def _search(board, white, depth, alpha, beta, *, deadline):
    if depth == 0:
        return _quiescence(board, white, alpha, beta, QUIESCENCE_DEPTH)
    if time.monotonic() > deadline:
        raise OutOfTime
    moves = sorted(_moves(board, white), key=lambda m: -_capture_order(board, m))
    if moves and _captures_king(board, moves[0]):
        return MATE  # the last move left a king to be taken: it was illegal, or there was no other
    best = -2 * MATE
    for move in moves:
        value = -_search(_play(board, move), not white, depth - 1, -beta, -alpha, deadline=deadline)
        best = max(best, value)
        alpha = max(alpha, value)
        if alpha >= beta:
            break
    if best <= -MATE // 2 and not _in_check(board, white):
        return 0  # every move loses the king, but it is not attacked now: stalemate
    return best


def _quiescence(board, white, alpha, beta, depth):
    """Only captures, until the position is quiet; standing pat is always allowed."""
    standing = _evaluate(board, white)
    if standing >= beta or depth == 0:
        return standing
    alpha = max(alpha, standing)
    captures = [m for m in _moves(board, white) if board[m[1]] != "."]
    for move in sorted(captures, key=lambda m: -_capture_order(board, m)):
        if _captures_king(board, move):
            return MATE
        value = -_quiescence(_play(board, move), not white, -beta, -alpha, depth - 1)
        if value >= beta:
            return value
        alpha = max(alpha, value)
    return alpha


def _in_check(board, white):
    king = "K" if white else "k"
    return any(board[move[1]] == king for move in _moves(board, not white))


def _evaluate(board, white):
    score = 0
    kings = {}
    for square, piece in enumerate(board):
        if piece == ".":
            continue
        kind, rank, file = piece.upper(), square // 8, square % 8
        value = VALUES[kind]
        if kind in "NB":
            value += 12 - 3 * (abs(2 * rank - 7) + abs(2 * file - 7)) // 2
        elif kind == "P":
            value += 4 * (rank - 1 if piece.isupper() else 6 - rank)
        elif kind == "K":
            kings[piece.isupper()] = (rank, file)
        score += value if piece.isupper() == white else -value
    if score > 200 and len(kings) == 2:  # ahead: push their king to the edge, bring ours closer
        (their_rank, their_file), (our_rank, our_file) = kings[not white], kings[white]
        edge = abs(2 * their_rank - 7) + abs(2 * their_file - 7)
        score += 5 * edge - 3 * (abs(their_rank - our_rank) + abs(their_file - our_file))
    return score
