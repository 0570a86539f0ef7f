"""What every use case needs of the platform, declared here so use cases never import bootstrap.

Each use case module extends `PlatformCore` with what it needs beyond it (`bootstrap.Platform`
satisfies all of them; tests/unit/test_use_case_platforms.py has mypy check it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from rlarena.adapters.db.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from rlarena.config import Settings
    from rlarena.events.publisher import Publisher


class PlatformCore(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def publisher(self) -> Publisher: ...

    def uow(self) -> UnitOfWork: ...
