"""The auth function over functions-framework, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
import warnings
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import select

from rlarena.adapters.db.models import User
from rlarena.bootstrap import Platform
from tests.conftest import TEST_SECRET
from tests.support.api import ApiClient


def test_register_returns_a_token_and_the_user_without_the_password(api: ApiClient) -> None:
    response = api.post(
        "/api/v1/auth/register",
        json={"username": "ada", "email": "Ada@Example.com", "password": "analytical engine", "fullName": "Ada L"},
    )
    assert response.status_code == 201
    body = response.json
    assert set(body["user"]) == {"id", "username", "email", "fullName", "avatarUrl", "createdAt", "updatedAt"}
    assert body["user"]["email"] == "ada@example.com"
    assert body["user"]["fullName"] == "Ada L"
    claims = jwt.decode(body["token"], TEST_SECRET, algorithms=["HS256"])
    assert claims["sub"] == body["user"]["id"]
    assert {"exp", "iat", "nbf"} <= set(claims)
    assert "password" not in response.get_data(as_text=True)


def test_passwords_are_stored_as_argon2_hashes(api: ApiClient, platform: Platform) -> None:
    user = api.register("hashme", password="plain text secret")
    with platform.uow() as uow:
        stored = uow.session.scalars(select(User.password_hash).where(User.id == uuid.UUID(user.id))).one()
    assert stored.startswith("$argon2id$")
    assert "plain text secret" not in stored


@pytest.mark.parametrize("field", ["username", "email"])
def test_register_refuses_a_taken_username_or_email_with_409(api: ApiClient, field: str) -> None:
    api.register("taken")
    clash = {"username": "other", "email": "other@example.com", "password": "long enough pw"}
    clash[field] = "taken" if field == "username" else "TAKEN@example.com"
    response = api.post("/api/v1/auth/register", json=clash)
    assert response.status_code == 409
    assert response.json["code"] == "conflict"
    assert response.json["details"]["fields"] == [field]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "ab", "email": "a@b.io", "password": "long enough"}, "username"),
        ({"username": "abc", "email": "not-an-email", "password": "long enough"}, "email"),
        ({"username": "abc", "email": "a@b.io", "password": "short"}, "password"),
        ({"username": "abc", "email": "a@b.io"}, "password"),
        ({"username": 123, "email": "a@b.io", "password": "long enough"}, "username"),
    ],
)
def test_register_says_which_field_to_fix(api: ApiClient, body: dict[str, object], field: str) -> None:
    response = api.post("/api/v1/auth/register", json=body)
    assert response.status_code == 400
    assert response.json["code"] == "invalid_input"
    assert [d["field"] for d in response.json["details"]] == [field]


@pytest.mark.parametrize("login_field", ["email", "username"])
def test_login_accepts_email_or_username(api: ApiClient, login_field: str) -> None:
    user = api.register("grace")
    login = user.email if login_field == "email" else user.username
    response = api.post("/api/v1/auth/login", json={login_field: login, "password": user.password})
    assert response.status_code == 200
    assert response.json["user"]["id"] == user.id
    # The old frontend sends the username in the `email` field.
    response = api.post("/api/v1/auth/login", json={"email": user.username, "password": user.password})
    assert response.status_code == 200


def test_login_with_a_wrong_password_or_unknown_user_is_the_same_401(api: ApiClient) -> None:
    user = api.register("linus")
    wrong = api.post("/api/v1/auth/login", json={"email": user.email, "password": "wrong password"})
    unknown = api.post("/api/v1/auth/login", json={"email": "nobody@example.com", "password": "wrong password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json == {"error": "invalid login or password", "code": "invalid_credentials"}


def test_me_returns_the_user_and_stats(api: ApiClient) -> None:
    user = api.register("stats")
    api.create_agent(user)
    response = api.get("/api/v1/users/me", headers=user.headers)
    assert response.status_code == 200
    assert response.json["user"]["username"] == "stats"
    assert response.json["stats"] == {
        "totalSubmissions": 0,
        "activeAgents": 0,
        "totalMatches": 0,
        "totalWins": 0,
        "bestRank": None,
    }


def test_update_me_changes_only_the_fields_given(api: ApiClient) -> None:
    user = api.register("partial")
    first = api.put("/api/v1/users/me", json={"fullName": "Part Ial"}, headers=user.headers)
    assert first.status_code == 200
    second = api.put("/api/v1/users/me", json={"avatarUrl": "https://img.example.com/a.png"}, headers=user.headers)
    assert second.json["user"]["fullName"] == "Part Ial"
    assert second.json["user"]["avatarUrl"] == "https://img.example.com/a.png"
    bad = api.put("/api/v1/users/me", json={"avatarUrl": "javascript:alert(1)"}, headers=user.headers)
    assert bad.status_code == 400
    assert bad.json["details"][0]["field"] == "avatarUrl"


def test_me_requires_a_token(api: ApiClient) -> None:
    response = api.get("/api/v1/users/me")
    assert response.status_code == 401
    assert "Bearer" in response.json["error"]


def _forge(claims: dict[str, object], key: str = TEST_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def test_tampered_expired_unsigned_and_wrong_algorithm_tokens_are_rejected(api: ApiClient) -> None:
    user = api.register("victim")
    now = datetime.now(UTC)
    valid = {"sub": user.id, "iss": "rlarena", "iat": now, "nbf": now, "exp": now + timedelta(hours=1)}
    header, payload, signature = user.token.split(".")
    tampered = f"{header}.{payload[:-2]}xx.{signature}"
    expired = _forge(
        {**valid, "iat": now - timedelta(hours=3), "nbf": now - timedelta(hours=3), "exp": now - timedelta(hours=1)}
    )
    unsigned = jwt.encode(valid, key=None, algorithm="none")
    other_key = _forge(valid, key="another-secret-that-is-long-enough-0123456789")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyjwt warns that the key is short for HS512: that is the point
        hs512 = _forge(valid, algorithm="HS512")
    no_exp = _forge({k: v for k, v in valid.items() if k != "exp"})
    for token in (tampered, expired, unsigned, other_key, hs512, no_exp, "garbage", ""):
        response = api.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
    expired_response = api.get("/api/v1/users/me", headers={"Authorization": f"Bearer {expired}"})
    assert expired_response.json["code"] == "token_expired"
    assert api.get("/api/v1/users/me", headers={"Authorization": f"Bearer {_forge(valid)}"}).status_code == 200


def test_a_token_of_a_user_that_does_not_exist_is_401(api: ApiClient) -> None:
    now = datetime.now(UTC)
    ghost = _forge(
        {"sub": str(uuid.uuid4()), "iss": "rlarena", "iat": now, "nbf": now, "exp": now + timedelta(hours=1)}
    )
    response = api.get("/api/v1/users/me", headers={"Authorization": f"Bearer {ghost}"})
    assert response.status_code == 401


class TestRateLimits:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"AUTH_RATE_LIMIT_PER_MINUTE": 3}

    def test_the_fourth_login_attempt_in_a_minute_is_429_with_retry_after(self, api: ApiClient) -> None:
        statuses = [
            api.post("/api/v1/auth/login", json={"email": "x@example.com", "password": "nope nope"}).status_code
            for _ in range(3)
        ]
        assert statuses == [401, 401, 401]
        limited = api.post("/api/v1/auth/login", json={"email": "x@example.com", "password": "nope nope"})
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.json["code"] == "rate_limited"

    def test_registration_has_its_own_limit(self, api: ApiClient) -> None:
        for n in range(3):
            api.register(f"burst{n}")
        response = api.post(
            "/api/v1/auth/register", json={"username": "burst9", "email": "b9@example.com", "password": "long enough"}
        )
        assert response.status_code == 429
        assert (
            api.post("/api/v1/auth/login", json={"email": "burst0", "password": "correct horse battery"}).status_code
            == 200
        )
