"""The auth function's answers: sessions and profiles."""

from __future__ import annotations

import uuid
from datetime import datetime

from rlarena.http.schemas.base import Schema


class User(Schema):
    id: uuid.UUID
    username: str
    email: str
    full_name: str | None
    avatar_url: str | None
    created_at: datetime | None
    updated_at: datetime | None


class UserStats(Schema):
    total_submissions: int
    active_agents: int
    total_matches: int
    total_wins: int
    best_rank: int | None


class Session(Schema):
    """A bearer token for `Authorization: Bearer <token>` and the account it names."""

    token: str
    user: User


class Profile(Schema):
    user: User
    stats: UserStats


class UserReply(Schema):
    user: User
