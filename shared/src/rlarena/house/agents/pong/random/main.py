"""House agent: a random paddle move (0 up, 1 stay, 2 down), different in every match."""

import random


def agent(observation, configuration):
    return random.choice((0, 1, 2))
