"""What a client may send, which channels exist, how close reasons fit, and who is connecting."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from rlarena.adapters.tokens import TokenService
from rlarena.errors import InvalidInput, Unauthenticated
from rlarena.relay.auth import authenticate, token_of
from rlarena.relay.protocol import Command, close_reason, parse_channel, parse_command
from tests.conftest import TEST_SECRET

# --- commands -------------------------------------------------------------------------------------


def test_subscribe_names_its_channel_at_the_top_level_or_in_the_payload() -> None:
    assert parse_command('{"type":"subscribe","channel":"leaderboard:pong"}') == Command(
        "subscribe", "leaderboard:pong"
    )
    assert parse_command('{"type":"unsubscribe","payload":{"channel":"leaderboard:chess"}}') == Command(
        "unsubscribe", "leaderboard:chess"
    )


def test_ping_needs_nothing_else() -> None:
    assert parse_command('{"type":"ping","payload":{"t":1}}') == Command("ping")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", "invalid_message"),
        ("[1, 2]", "invalid_message"),
        ('{"payload": {}}', "invalid_message"),
        ('{"type": 7}', "invalid_message"),
        ('{"type": "dance"}', "unknown_message_type"),
        ('{"type": "subscribe"}', "invalid_channel"),
        ('{"type": "subscribe", "channel": "user:me"}', "unknown_channel"),
        ('{"type": "subscribe", "channel": "agent:not-a-uuid"}', "invalid_channel"),
        ('{"type": "subscribe", "channel": "leaderboard:snakes"}', "unknown_environment"),
        ("[" * 100_000, "too_large"),
    ],
)
def test_malformed_commands_are_refused_with_a_code_saying_why(text: str, code: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_command(text)
    assert error.value.code == code


def test_channels_are_canonical() -> None:
    agent = uuid.uuid4()

    assert parse_channel(f"agent:{str(agent).upper()}") == f"agent:{agent}"
    assert parse_channel("leaderboard:tic-tac-toe-v3") == "leaderboard:tic-tac-toe"


def test_a_close_reason_is_cut_to_123_bytes_without_splitting_a_character() -> None:
    reason = close_reason("é" * 100)

    assert len(reason.encode("utf-8")) <= 123
    assert reason.endswith("...")
    assert close_reason("short") == "short"


# --- who is connecting -----------------------------------------------------------------------------

TOKENS = TokenService(TEST_SECRET, timedelta(hours=1))


def token_for(user: uuid.UUID, issued: datetime | None = None) -> str:
    return TOKENS.issue(user, "player", issued or datetime.now(UTC))


def test_the_header_and_the_query_parameter_both_carry_a_token_and_the_header_wins() -> None:
    assert token_of({"authorization": "Bearer abc"}, {"token": "xyz"}) == "abc"
    assert token_of({}, {"token": "xyz"}) == "xyz"
    assert token_of({}, {}) is None


def test_a_valid_token_names_its_user() -> None:
    user = uuid.uuid4()

    assert authenticate(TOKENS, {}, {"token": token_for(user)}, allow_anonymous=False) == user
    assert authenticate(TOKENS, {"authorization": f"bearer {token_for(user)}"}, {}, allow_anonymous=False) == user


def test_no_token_is_anonymous_only_where_allowed() -> None:
    assert authenticate(TOKENS, {}, {}, allow_anonymous=True) is None
    with pytest.raises(Unauthenticated, match="authentication required") as error:
        authenticate(TOKENS, {}, {}, allow_anonymous=False)
    assert error.value.code == "authentication_required"


@pytest.mark.parametrize(
    ("headers", "query", "code"),
    [
        ({"authorization": "Basic dXNlcjpwYXNz"}, {}, "invalid_token"),
        ({"authorization": "Bearer "}, {}, "invalid_token"),
        ({}, {"token": "not.a.jwt"}, "invalid_token"),
        (
            {},
            {
                "token": TokenService("another-secret-0123456789-abcdefghijklmnop", timedelta(hours=1)).issue(
                    uuid.uuid4(), "x", datetime.now(UTC)
                )
            },
            "invalid_token",
        ),
    ],
)
def test_a_bad_token_is_refused_even_where_anonymous_is_allowed(
    headers: dict[str, str], query: dict[str, str], code: str
) -> None:
    with pytest.raises(Unauthenticated) as error:
        authenticate(TOKENS, headers, query, allow_anonymous=True)
    assert error.value.code == code


def test_an_expired_token_is_refused_as_expired() -> None:
    stale = token_for(uuid.uuid4(), datetime.now(UTC) - timedelta(hours=2))

    with pytest.raises(Unauthenticated, match="expired") as error:
        authenticate(TOKENS, {}, {"token": stale}, allow_anonymous=False)
    assert error.value.code == "token_expired"
