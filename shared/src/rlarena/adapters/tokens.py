"""JWT access tokens: HS256 only, with exp, iat, nbf and the user id in `sub`."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import jwt

from rlarena.errors import Unauthenticated

ALGORITHM = "HS256"
ISSUER = "rlarena"


class TokenService:
    def __init__(self, secret: str, expiry: timedelta) -> None:
        self._secret = secret
        self._expiry = expiry

    @property
    def expiry(self) -> timedelta:
        return self._expiry

    def issue(self, user_id: uuid.UUID, username: str, now: datetime) -> str:
        claims = {
            "sub": str(user_id),
            "username": username,
            "iss": ISSUER,
            "iat": now,
            "nbf": now,
            "exp": now + self._expiry,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> uuid.UUID:
        """The user id in a valid token; Unauthenticated (with the reason) for anything else."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "nbf", "sub", "iss"]},
                leeway=5,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token has expired: log in again", code="token_expired") from None
        except jwt.PyJWTError:
            raise Unauthenticated("invalid token", code="invalid_token") from None
        try:
            return uuid.UUID(claims["sub"])
        except (ValueError, TypeError, AttributeError):
            raise Unauthenticated("invalid token", code="invalid_token") from None
