"""Code that runs next to a user's agent, in the sandboxed child or the agent's container.

Standard library only: importing anything here must not pull the platform's dependencies
(pydantic, SQLAlchemy, ...), which the agent's environment does not have and should not see.
"""
