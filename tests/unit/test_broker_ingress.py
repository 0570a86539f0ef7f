"""The broker ingress token: only `Authorization: Bearer <the platform's token>` gets an event in."""

from __future__ import annotations

import pytest

from rlarena.errors import ConfigurationError, Forbidden, Unauthenticated, http_status
from rlarena.events.ingress import bearer_header, check_ingress_token

TOKEN = "a" * 32 + "b" * 32


def test_the_right_token_is_accepted_in_any_scheme_case_and_with_spaces_around() -> None:
    check_ingress_token(f"Bearer {TOKEN}", TOKEN)
    check_ingress_token(f"bearer {TOKEN}", TOKEN)
    check_ingress_token(f"  Bearer   {TOKEN}  ", TOKEN)
    check_ingress_token(bearer_header(TOKEN)["Authorization"], TOKEN)


@pytest.mark.parametrize("header", [None, "", "   ", "Bearer", "Bearer ", f"Basic {TOKEN}", TOKEN])
def test_no_bearer_token_is_401(header: str | None) -> None:
    with pytest.raises(Unauthenticated) as raised:
        check_ingress_token(header, TOKEN)
    assert http_status(raised.value) == 401
    assert raised.value.code == "missing_broker_token"


@pytest.mark.parametrize(
    "given",
    [
        "b" * 64,  # same length, every character wrong
        TOKEN[:-1] + "c",  # one character wrong
        TOKEN[:-1],  # a prefix
        TOKEN + "a",  # longer
        "é" * 10,  # not ASCII (compare_digest on str would raise TypeError)
        "\udcff",  # not even encodable
    ],
)
def test_a_wrong_token_is_403(given: str) -> None:
    with pytest.raises(Forbidden) as raised:
        check_ingress_token(f"Bearer {given}", TOKEN)
    assert http_status(raised.value) == 403
    assert raised.value.code == "invalid_broker_token"
    assert TOKEN not in raised.value.message


def test_an_ingress_without_a_token_refuses_everything_instead_of_running_open() -> None:
    with pytest.raises(ConfigurationError):
        check_ingress_token("Bearer ", "")
    with pytest.raises(ConfigurationError):
        check_ingress_token(None, "")
