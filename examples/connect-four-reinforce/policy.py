"""The policy both train.py and agent.py use: a small numpy network over the observation planes.

planes (6x7x2, the mover's pieces then the opponent's) -> 128 tanh units -> 7 column logits; illegal
columns are masked out before the softmax. Weights live in one .npz file: w1, b1, w2, b2.
"""

import numpy as np

HIDDEN = 128
INPUTS = 6 * 7 * 2
COLUMNS = 7


def initial_weights(rng):
    return {
        "w1": rng.normal(0.0, 1.0 / np.sqrt(INPUTS), (INPUTS, HIDDEN)),
        "b1": np.zeros(HIDDEN),
        "w2": rng.normal(0.0, 0.1 / np.sqrt(HIDDEN), (HIDDEN, COLUMNS)),
        "b2": np.zeros(COLUMNS),
    }


def features(planes):
    """The planes as a flat float vector; accepts the runtime's nested lists or an array."""
    return np.asarray(planes, dtype=np.float64).reshape(-1)


def forward(weights, x, mask):
    """(hidden activations, masked probabilities) for one observation."""
    hidden = np.tanh(x @ weights["w1"] + weights["b1"])
    logits = hidden @ weights["w2"] + weights["b2"]
    logits = np.where(np.asarray(mask, dtype=bool), logits, -np.inf)
    logits -= logits.max()
    exp = np.exp(logits)
    return hidden, exp / exp.sum()
