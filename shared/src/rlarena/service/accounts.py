"""Use cases of user accounts: register, log in, read and update one's profile."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from rlarena.adapters.db.models import User
from rlarena.adapters.db.repositories import UserStats
from rlarena.errors import Conflict, Unauthenticated
from rlarena.service.commands import LogIn, RegisterUser, UpdateProfile
from rlarena.service.ports import PlatformCore

if TYPE_CHECKING:
    from rlarena.adapters.db.rate_limits import RateLimiter
    from rlarena.adapters.passwords import PasswordHasher
    from rlarena.adapters.tokens import TokenService

RATE_WINDOW = timedelta(minutes=1)


class AccountsPlatform(PlatformCore, Protocol):
    """What the account use cases need of the platform (`bootstrap.Platform` is one)."""

    @property
    def passwords(self) -> PasswordHasher: ...

    @property
    def tokens(self) -> TokenService: ...

    @property
    def rate_limiter(self) -> RateLimiter: ...


@dataclass(frozen=True)
class Session:
    token: str
    user: User


def register(platform: AccountsPlatform, command: RegisterUser, client_ip: str) -> Session:
    _limit_attempts(platform, "register", client_ip, "registrations from this address")
    password_hash = platform.passwords.hash(command.password)
    with platform.uow() as uow:
        taken = uow.users.taken(command.username, command.email)
        if taken:
            raise Conflict(f"{' and '.join(taken)} already taken", details={"fields": taken})
        now = platform.clock()
        user = User(
            id=uuid.uuid4(),
            username=command.username,
            email=command.email,
            password_hash=password_hash,
            full_name=command.full_name,
            created_at=now,
            updated_at=now,
        )
        uow.users.add(user)
        if not uow.commit_unique():
            # Two registrations raced for the same name; the unique index decided.
            raise Conflict("username or email already taken")
    return Session(token=platform.tokens.issue(user.id, user.username, platform.clock()), user=user)


def log_in(platform: AccountsPlatform, command: LogIn, client_ip: str) -> Session:
    _limit_attempts(platform, "login", client_ip, "login attempts from this address")
    with platform.uow() as uow:
        user = uow.users.by_login(command.login)
    # Verify even when the user does not exist, so timing does not reveal which logins exist.
    if not platform.passwords.verify(user.password_hash if user else None, command.password) or user is None:
        raise Unauthenticated("invalid login or password", code="invalid_credentials")
    return Session(token=platform.tokens.issue(user.id, user.username, platform.clock()), user=user)


def profile(platform: AccountsPlatform, user_id: uuid.UUID) -> tuple[User, UserStats]:
    with platform.uow() as uow:
        user = _existing(uow.users.get(user_id))
        return user, uow.users.stats(user_id)


def update_profile(platform: AccountsPlatform, user_id: uuid.UUID, command: UpdateProfile) -> User:
    with platform.uow() as uow:
        user = _existing(uow.users.get(user_id))
        if "full_name" in command.model_fields_set:
            user.full_name = command.full_name or None
        if "avatar_url" in command.model_fields_set:
            user.avatar_url = command.avatar_url
        user.updated_at = platform.clock()
        uow.commit()
        return user


def _limit_attempts(platform: AccountsPlatform, action: str, client_ip: str, what: str) -> None:
    platform.rate_limiter.hit(
        f"{action}:{client_ip}",
        limit=platform.settings.auth_rate_limit_per_minute,
        window=RATE_WINDOW,
        now=platform.clock(),
        what=what,
    )


def _existing(user: User | None) -> User:
    if user is None:
        # A valid token for an account that no longer exists.
        raise Unauthenticated("this account no longer exists", code="unknown_user")
    return user
