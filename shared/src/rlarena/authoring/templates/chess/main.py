"""A starter agent for chess on RL Arena: take the most valuable piece it can (with the cheapest
attacker), promote to a queen, else develop towards the centre. Standard library only, no search:
a good place to add one (python-chess is not available in the sandbox unless your
requirements.txt asks for it and the platform installs requirements).

The platform calls `agent(observation, configuration)` once per move and plays what it returns.

observation:
    fen            the position in FEN (the board, whose turn, castling, en passant, clocks)
    legal_moves    the legal moves in UCI ("e2e4", "e7e8q"); legal_moves[i] is legal_actions[i]
    legal_actions  the same moves as PettingZoo's action integers: return one of these
    player         0 (white) or 1 (black)
    (the 8x8x111 planes and the 4672-entry action_mask are sent too, for learning agents)
configuration: environment, player, step (plies played so far), max_steps, move_timeout_s, overage_s

Return an integer from legal_actions (look up the move you chose in legal_moves to find it).
"""

VALUES = {"p": 1, "n": 3, "b": 3, "r": 5, "q": 9, "k": 0}
CENTRE = {"d4", "e4", "d5", "e5", "c3", "f3", "c6", "f6"}


def squares(fen):
    """{square name: piece letter} from a FEN: white pieces in capitals, as FEN writes them."""
    placement = fen.split()[0]
    pieces = {}
    for index, rank in enumerate(placement.split("/")):
        file = 0
        for symbol in rank:
            if symbol.isdigit():
                file += int(symbol)
            else:
                pieces["abcdefgh"[file] + str(8 - index)] = symbol
                file += 1
    return pieces


def score(move, pieces):
    """Higher is better: captures by value (victim first, then the cheaper attacker), promotions."""
    mover = pieces.get(move[:2], "p").lower()
    victim = pieces.get(move[2:4])
    value = 0.0
    if victim is not None:
        value += 10 * VALUES[victim.lower()] - VALUES[mover]
    if len(move) == 5:
        value += 80 if move[4] == "q" else 0
    if move[2:4] in CENTRE and mover in "pnb":
        value += 0.5
    if mover == "k":
        value -= 1  # keep the king home while there is anything else to do
    return value


def agent(observation, configuration):
    pieces = squares(observation["fen"])
    moves = observation["legal_moves"]
    actions = observation["legal_actions"]
    # max() keeps the first of equal scores; the step breaks ties differently from move to move.
    offset = configuration.get("step", 0) % len(moves)
    order = list(range(offset, len(moves))) + list(range(offset))
    best = max(order, key=lambda i: score(moves[i], pieces))
    return actions[best]
