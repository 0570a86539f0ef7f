"""JWTs and password hashes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from rlarena.adapters.passwords import PasswordHasher
from rlarena.adapters.tokens import TokenService
from rlarena.errors import Unauthenticated

SECRET = "unit-test-secret-0123456789abcdef0123456789"


@pytest.fixture
def tokens() -> TokenService:
    return TokenService(SECRET, timedelta(hours=1))


def test_a_token_round_trips_the_user_id(tokens: TokenService) -> None:
    user_id = uuid.uuid4()
    token = tokens.issue(user_id, "ada", datetime.now(UTC))
    assert tokens.verify(token) == user_id
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"


def test_an_expired_token_says_so(tokens: TokenService) -> None:
    token = tokens.issue(uuid.uuid4(), "ada", datetime.now(UTC) - timedelta(hours=2))
    with pytest.raises(Unauthenticated) as caught:
        tokens.verify(token)
    assert caught.value.code == "token_expired"


def test_a_token_not_yet_valid_is_refused(tokens: TokenService) -> None:
    token = tokens.issue(uuid.uuid4(), "ada", datetime.now(UTC) + timedelta(minutes=10))
    with pytest.raises(Unauthenticated):
        tokens.verify(token)


def test_alg_none_and_other_keys_are_refused(tokens: TokenService) -> None:
    now = datetime.now(UTC)
    claims = {"sub": str(uuid.uuid4()), "iss": "rlarena", "iat": now, "nbf": now, "exp": now + timedelta(hours=1)}
    for forged in (
        jwt.encode(claims, key=None, algorithm="none"),
        jwt.encode(claims, "another-key-entirely-0123456789abcdef", algorithm="HS256"),
        jwt.encode({**claims, "sub": "not-a-uuid"}, SECRET, algorithm="HS256"),
        jwt.encode({**claims, "iss": "someone-else"}, SECRET, algorithm="HS256"),
    ):
        with pytest.raises(Unauthenticated):
            tokens.verify(forged)


def test_passwords_hash_with_argon2id_and_verify() -> None:
    hasher = PasswordHasher(time_cost=1, memory_cost_kib=8)
    stored = hasher.hash("correct horse")
    assert stored.startswith("$argon2id$")
    assert hasher.verify(stored, "correct horse")
    assert not hasher.verify(stored, "wrong horse")
    assert not hasher.verify("not a hash", "correct horse")


def test_verifying_without_a_stored_hash_still_says_no() -> None:
    hasher = PasswordHasher(time_cost=1, memory_cost_kib=8)
    assert not hasher.verify(None, "not a password anyone has")
