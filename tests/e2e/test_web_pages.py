"""The web function on the local platform, over real HTTP: its pages read the platform's own REST API."""

from __future__ import annotations

import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.running_platform import RunningPlatform


@dataclass
class Answer:
    status: int
    url: str
    content_type: str
    text: str
    headers: list[tuple[str, str]]


class Browser:
    """A cookie-keeping HTTP client that follows redirects, as a browser without JavaScript does."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def open(self, path: str, form: dict[str, str] | None = None) -> Answer:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(self.base_url + path, data=data, timeout=20) as reply:
                return Answer(reply.status, reply.url, reply.headers.get_content_type(), reply.read().decode(), [])
        except urllib.error.HTTPError as error:
            body = error.read().decode()
            return Answer(error.code, error.url, error.headers.get_content_type(), body, list(error.headers.items()))


@pytest.fixture
def browser(local_platform: RunningPlatform) -> Iterator[Browser]:
    yield Browser(local_platform.base_url)


def sign_up(browser: Browser, name: str) -> Answer:
    return browser.open("/signup", {"username": name, "email": f"{name}@example.com", "password": "a-long-password"})


def test_the_home_page_lists_every_game_as_html(browser: Browser) -> None:
    page = browser.open("/")
    assert (page.status, page.content_type) == (200, "text/html")
    for game in ("chess", "connect-four", "tic-tac-toe"):
        assert f'href="/games/{game}"' in page.text


def test_signing_up_sets_an_http_only_cookie_and_lands_on_my_agents(browser: Browser) -> None:
    name = f"web{uuid.uuid4().hex[:8]}"
    page = sign_up(browser, name)
    assert page.status == 200 and page.url.endswith("/me")
    assert "My agents" in page.text and "You have no agents yet." in page.text
    token = next(c for c in browser.cookies if c.name == "rlarena_token")
    assert token.has_nonstandard_attr("HttpOnly")
    assert token.get_nonstandard_attr("SameSite") == "Lax"


def test_an_api_error_is_shown_inline_in_the_form(browser: Browser, local_platform: RunningPlatform) -> None:
    name = f"web{uuid.uuid4().hex[:8]}"
    sign_up(browser, name)
    again = sign_up(Browser(local_platform.base_url), name)
    assert again.status == 409
    assert '<p class="error" role="alert">' in again.text and f'value="{name}"' in again.text
    wrong = Browser(local_platform.base_url).open("/login", {"email": f"{name}@example.com", "password": "nope-nope"})
    assert wrong.status == 401 and 'role="alert"' in wrong.text


def test_logging_in_then_creating_an_agent_shows_it_on_my_page(
    browser: Browser, local_platform: RunningPlatform
) -> None:
    name = f"web{uuid.uuid4().hex[:8]}"
    sign_up(browser, name)
    browser.open("/logout", {})
    assert browser.open("/me").url.endswith("/login")
    again = Browser(local_platform.base_url)
    assert again.open("/login", {"email": name, "password": "a-long-password"}).url.endswith("/me")
    agent_name = "<script>alert(1)</script>"
    created = again.open("/me/agents", {"name": agent_name, "environmentId": "tic-tac-toe"})
    assert "/agents/" in created.url
    mine = again.open("/me")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mine.text and "<script>alert" not in mine.text


def test_the_leaderboard_page_shows_a_game_and_its_sort_links(browser: Browser) -> None:
    page = browser.open("/games/tic-tac-toe?sort=conservative")
    assert page.status == 200 and "<h1>Tic-Tac-Toe</h1>" in page.text
    assert 'href="?sort=elo"' in page.text


def test_unknown_pages_are_an_html_404(browser: Browser) -> None:
    for path in ("/games/no-such-game", "/assets/nothing.css", "/agents-list"):
        page = browser.open(path)
        assert page.status == 404, path
    page = browser.open("/games/no-such-game")
    assert page.content_type == "text/html" and "Page not found" in page.text


def test_the_static_files_are_served(browser: Browser) -> None:
    assert browser.open("/assets/style.css").content_type == "text/css"
    assert browser.open("/assets/app.js").content_type == "text/javascript"


def test_a_doubled_slash_is_the_home_page_not_an_api_error(browser: Browser) -> None:
    # The gateway hands "//" on as "/", which the web app serves (it was a JSON 404 before "/" had a page).
    page = browser.open("//")
    assert (page.status, page.content_type) == (200, "text/html") and "<h1>Games</h1>" in page.text
