"""The SQLAlchemy unit of work: one transaction, the repositories bound to it, rolled back unless
committed. Use cases see it through `rlarena.service.unit_of_work.UnitOfWorkLike`."""

from __future__ import annotations

from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Self

from cloudevents.http import CloudEvent
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from rlarena.adapters.db import outbox
from rlarena.adapters.db.outage import database_unavailable, is_database_outage
from rlarena.adapters.db.rating_queries import RatingRepository
from rlarena.adapters.db.repositories import AgentRepository, EnvironmentRepository, UserRepository

if TYPE_CHECKING:
    from rlarena.adapters.db.models import OutboxEvent
    from rlarena.adapters.db.outbox import OutboxRelay


class UnitOfWork:
    users: UserRepository
    agents: AgentRepository
    environments: EnvironmentRepository
    ratings: RatingRepository
    session: Session

    def __init__(self, engine: Engine, *, relay: OutboxRelay | None = None) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._relay = relay
        self._staged: list[tuple[OutboxEvent, CloudEvent]] = []

    def __enter__(self) -> Self:
        self.session = self._sessions()
        self._staged = []
        self.users = UserRepository(self.session)
        self.agents = AgentRepository(self.session)
        self.environments = EnvironmentRepository(self.session)
        self.ratings = RatingRepository(self.session)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        # close() rolls back whatever was not committed and detaches the loaded objects without
        # expiring them, so use cases can return them for rendering.
        self.session.close()
        if error is not None and is_database_outage(error):
            # The database is unreachable or went away: a retryable 503, never SQL in a response.
            raise database_unavailable() from error

    def publish(self, event: CloudEvent) -> None:
        """Announce `event` if, and only if, this transaction commits (the outbox)."""
        # Wall-clock time: the outbox's leases and backoff are the relay's, not the domain's clock.
        self._staged.append((outbox.stage(self.session, event, datetime.now(UTC)), event))

    def commit(self) -> None:
        self.session.commit()
        self._after_commit()

    def commit_unique(self) -> bool:
        """Commit; False, with nothing written, if a unique constraint refused it (a race lost)."""
        try:
            self.session.commit()
        except IntegrityError:
            self.session.rollback()
            self._staged = []
            return False
        self._after_commit()
        return True

    def _after_commit(self) -> None:
        staged, self._staged = self._staged, []
        if staged and self._relay is not None:
            # Best effort, at once; what the broker does not take now, the relay publishes later.
            self._relay.publish_committed(staged)

    def flush(self) -> None:
        self.session.flush()
