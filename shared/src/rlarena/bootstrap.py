"""Wire the platform's dependencies once per process, from the one settings object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from sqlalchemy import Engine

from rlarena.adapters.db.engine import make_engine
from rlarena.adapters.db.rate_limits import RateLimiter
from rlarena.adapters.passwords import PasswordHasher
from rlarena.adapters.tokens import TokenService
from rlarena.config import Settings
from rlarena.events.publisher import Publisher, publisher_for
from rlarena.service.unit_of_work import UnitOfWork


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Platform:
    """Everything a use case may need. Built lazily: nothing connects until first used."""

    settings: Settings
    publisher: Publisher
    clock: Callable[[], datetime] = utc_now
    passwords: PasswordHasher = field(default_factory=PasswordHasher)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(
            self.settings.resolved_database_url,
            pool_size=self.settings.db_pool_size,
            max_overflow=self.settings.db_max_overflow,
        )

    @cached_property
    def tokens(self) -> TokenService:
        return TokenService(self.settings.jwt_signing_key, self.settings.jwt_expiry)

    @cached_property
    def rate_limiter(self) -> RateLimiter:
        return RateLimiter(self.engine)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()


def bootstrap(settings: Settings, *, publisher: Publisher | None = None) -> Platform:
    return Platform(settings=settings, publisher=publisher or publisher_for(settings))
