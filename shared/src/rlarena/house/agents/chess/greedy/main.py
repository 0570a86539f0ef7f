"""House agent: takes the most valuable piece it can (with its least valuable attacker), else a
random move; it always promotes to a queen when it can.

The observation holds `fen` (the position) and `legal_moves`, where legal_moves[i] is the UCI
text ("e2e4", "e7e8q") of legal_actions[i], the integer to answer with. Only the board field of the
FEN is read here: enough to see what stands on a move's target square.
"""

import random

VALUES = {"p": 1, "n": 3, "b": 3, "r": 5, "q": 9, "k": 0}


def agent(observation, configuration):
    squares = _squares(observation["fen"])
    best_score, best = None, []
    for action, move in zip(observation["legal_actions"], observation["legal_moves"], strict=True):
        victim = squares.get(move[2:4])
        attacker = squares.get(move[0:2], "p")
        score = 0
        if victim is not None:
            score = 10 * VALUES[victim.lower()] - VALUES[attacker.lower()] + 10
        if len(move) == 5:
            score += 10 * VALUES[move[4]]
        if best_score is None or score > best_score:
            best_score, best = score, [action]
        elif score == best_score:
            best.append(action)
    return random.choice(best)


def _squares(fen):
    """The pieces by square name, e.g. {"e1": "K", "e8": "k", ...}; upper case is white."""
    pieces = {}
    for rank_index, rank in enumerate(fen.split()[0].split("/")):
        file_index = 0
        for char in rank:
            if char.isdigit():
                file_index += int(char)
            else:
                pieces["abcdefgh"[file_index] + str(8 - rank_index)] = char
                file_index += 1
    return pieces
