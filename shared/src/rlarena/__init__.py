"""RL Arena: serverless reinforcement-learning competitions."""

__version__ = "0.1.0"
