"""The games agents play: one `Environment` contract, a registry of versioned ids, and the games.

Import `rlarena.environments.registry` to look games up; it costs milliseconds because each game
(and PettingZoo, numpy, python-chess behind the board games) is imported only by `create()`.
"""
