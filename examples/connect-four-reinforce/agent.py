"""Connect Four by a policy trained with REINFORCE (train.py): numpy, weights read from weights.npz.

The weights file sits beside this one in the upload; it is read once, when the agent starts.
Illegal columns are masked out and the most probable legal column is played.
"""

from pathlib import Path

import numpy as np
from policy import features, forward

WEIGHTS = dict(np.load(Path(__file__).with_name("weights.npz")))


def agent(observation, configuration):
    _, probabilities = forward(WEIGHTS, features(observation["observation"]), observation["action_mask"])
    return int(np.argmax(probabilities))
