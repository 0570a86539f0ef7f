"""House agent: a uniformly random legal move (seeded per process, so a match replays the same)."""

import random

_choice = random.Random(0).choice


def agent(observation, configuration):
    return _choice(observation["legal_actions"])
