"""The SQLAlchemy unit of work: one transaction, the repositories bound to it, rolled back unless
committed. Use cases see it through `rlarena.service.unit_of_work.UnitOfWorkLike`."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from rlarena.adapters.db.rating_queries import RatingRepository
from rlarena.adapters.db.repositories import AgentRepository, EnvironmentRepository, UserRepository
from rlarena.errors import ServiceUnavailable


class UnitOfWork:
    users: UserRepository
    agents: AgentRepository
    environments: EnvironmentRepository
    ratings: RatingRepository
    session: Session

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def __enter__(self) -> Self:
        self.session = self._sessions()
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
        if isinstance(error, OperationalError) or (isinstance(error, DBAPIError) and error.connection_invalidated):
            # The database is unreachable or went away: a retryable 503, never SQL in a response.
            raise ServiceUnavailable("the database is unavailable; try again shortly") from error

    def commit(self) -> None:
        self.session.commit()

    def commit_unique(self) -> bool:
        """Commit; False, with nothing written, if a unique constraint refused it (a race lost)."""
        try:
            self.session.commit()
        except IntegrityError:
            self.session.rollback()
            return False
        return True

    def flush(self) -> None:
        self.session.flush()
