"""House agent: a random paddle move (0 up, 1 stay, 2 down)."""

import random

_choice = random.Random(0).choice


def agent(observation, configuration):
    return _choice((0, 1, 2))
