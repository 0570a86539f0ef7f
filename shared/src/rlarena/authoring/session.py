"""What every command against a running platform shares: the saved login, and how failures end
(not logged in: exit 2 with what to run; the API's error: its message, exit 1)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from rlarena.authoring.credentials import credentials_path, load
from rlarena.errors import ApiError

if TYPE_CHECKING:
    from rlarena.api_client.generated import ArenaApi

OK, FAILED, NOT_LOGGED_IN = 0, 1, 2


def against_platform(command: str, action: Callable[[ArenaApi], int]) -> int:
    """Run `action` with a client logged in as the saved credentials say; the exit code."""
    credentials = load()
    if credentials is None:
        print(
            f"rlarena {command}: not logged in (no credentials in {credentials_path()}): run `rlarena login URL` first",
            file=sys.stderr,
        )
        return NOT_LOGGED_IN
    from rlarena.api_client.generated import ArenaApi

    try:
        return action(ArenaApi(credentials.url, credentials.token))
    except ApiError as error:
        print(f"rlarena {command}: {error.message}", file=sys.stderr)
        if error.status == 401:
            print(
                f"rlarena {command}: the saved login for {credentials.url} was refused: run `rlarena login URL` again",
                file=sys.stderr,
            )
        return FAILED
