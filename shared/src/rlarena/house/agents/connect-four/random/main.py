"""House agent: a uniformly random legal move.

`random` seeds itself from the operating system when the agent process starts, so every match
plays differently; the replay records the moves that were played.
"""

import random


def agent(observation, configuration):
    return random.choice(observation["legal_actions"])
