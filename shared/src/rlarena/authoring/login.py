"""`rlarena login URL`: log in to a running platform and keep its URL and the token (see
`credentials`). Asks for the username (or email) and the password; scripts pass --username and
--password-stdin. Exit codes: 0 logged in, 1 refused by the platform, 2 a usage error."""

from __future__ import annotations

import argparse
import sys

OK, REFUSED, USAGE = 0, 1, 2


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="the platform, e.g. http://localhost:8080")
    parser.add_argument("--username", help="the username or email (asked for when left out)")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")


def run(arguments: argparse.Namespace) -> int:
    from rlarena.api_client.generated import ArenaApi
    from rlarena.authoring.credentials import Credentials, save
    from rlarena.errors import ApiError

    url = str(arguments.url).rstrip("/")
    if not url.startswith(("http://", "https://")):
        print(f"rlarena login: {arguments.url} is not an http:// or https:// URL", file=sys.stderr)
        return USAGE
    username, password = _asked(arguments)
    if not username or not password:
        print("rlarena login: a username and a password are needed", file=sys.stderr)
        return USAGE
    try:
        session = ArenaApi(url).login({"email": username, "password": password})
    except ApiError as error:
        print(f"rlarena login: {error.message}", file=sys.stderr)
        return REFUSED
    name = session["user"]["username"] or username
    path = save(Credentials(url=url, token=session["token"], username=name))
    print(f"logged in to {url} as {name}; the token is kept in {path} (readable by you only)")
    return OK


def _asked(arguments: argparse.Namespace) -> tuple[str, str]:
    import getpass

    username = arguments.username or input("username or email: ").strip()
    password = sys.stdin.readline().rstrip("\r\n") if arguments.password_stdin else getpass.getpass("password: ")
    return username, password
