"""What agents are given, told once: `describe()` for `GET /api/v1/environments`, and docs/agents.md
rendered from the same data (`python -m rlarena.agent_docs` writes it, `--check` compares).

The per-game facts are `rlarena.environments.guide`; the limits are the match runner's own
(`MatchLimits`); the example positions are played on the real games (`examples`).
"""
