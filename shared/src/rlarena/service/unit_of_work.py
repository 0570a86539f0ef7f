"""What use cases need of a unit of work: one transaction and the repositories bound to it.

The implementation is SQLAlchemy's, in `rlarena.adapters.db.unit_of_work`; `Platform.uow()`
makes one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from rlarena.adapters.db.rating_queries import RatingRepository
from rlarena.adapters.db.repositories import AgentRepository, EnvironmentRepository, UserRepository

if TYPE_CHECKING:
    from cloudevents.http import CloudEvent

__all__ = ["UnitOfWorkLike"]


class UnitOfWorkLike(Protocol):
    """One transaction: rolled back unless committed."""

    @property
    def users(self) -> UserRepository: ...

    @property
    def agents(self) -> AgentRepository: ...

    @property
    def environments(self) -> EnvironmentRepository: ...

    @property
    def ratings(self) -> RatingRepository: ...

    def publish(self, event: CloudEvent) -> None:
        """Announce `event` if, and only if, this transaction commits (the outbox)."""
        ...

    def commit(self) -> None: ...

    def commit_unique(self) -> bool:
        """Commit; False, with nothing written, if a unique constraint refused it (a race lost)."""
        ...
