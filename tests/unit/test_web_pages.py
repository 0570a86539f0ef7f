"""The web pages as functions of the API's JSON: everything user-provided is shown as text."""

from __future__ import annotations

from rlarena.web import agent_pages, pages
from rlarena.web.markup import Html, tag, text, void

HOSTILE = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"


def agent(**overrides: object) -> dict[str, object]:
    return {
        "id": "5b0c4b2e-0000-4000-8000-000000000001",
        "name": HOSTILE,
        "username": HOSTILE,
        "elo": 1523,
        "rank": 1,
        "wins": 3,
        "losses": 1,
        "draws": 2,
        "skill": {"mu": 27.5, "sigma": 2.5, "conservative": 20.0},
        **overrides,
    }


def test_text_escapes_markup_and_quotes() -> None:
    assert text(HOSTILE) == ESCAPED
    assert text(None) == ""
    assert text(Html("<b>ours</b>")) == "<b>ours</b>"


def test_attributes_are_escaped_and_named_like_html() -> None:
    rendered = tag("a", "go", href='/x"onmouseover="y', class_="c", data_agent_id="1", hidden=False)
    assert rendered == '<a href="/x&quot;onmouseover=&quot;y" class="c" data-agent-id="1">go</a>'
    assert void("input", name="n", required=True) == '<input name="n" required>'


def test_a_hostile_agent_name_is_shown_as_text_on_the_leaderboard() -> None:
    html = pages.leaderboard({"id": "chess", "name": "Chess"}, [agent()], sort="elo", user=None)
    assert "<script>" not in html
    assert html.count(ESCAPED) == 2  # the agent's name and its owner's
    assert "3-1-2" in html


def test_the_leaderboard_shows_skill_as_an_interval_and_marks_the_sort() -> None:
    html = pages.leaderboard({"id": "chess", "name": "Chess"}, [agent()], sort="conservative", user=None)
    assert "27.5 ± 2.5 (25.0 to 30.0)" in html
    assert '<a href="?sort=conservative" aria-current="true">' in html
    assert "sorted by conservative skill" in html


def test_the_home_page_lists_each_game_with_its_top_agents_escaped() -> None:
    environments = [{"id": "tic-tac-toe", "name": "Tic-Tac-Toe", "description": HOSTILE}]
    html = pages.home(environments, {"tic-tac-toe": [agent()]}, user=HOSTILE)
    assert '<a href="/games/tic-tac-toe">Tic-Tac-Toe</a>' in html
    assert "<script>" not in html and ESCAPED in html
    assert 'href="/agents/5b0c4b2e-0000-4000-8000-000000000001"' in html
    assert 'action="/logout"' in html  # signed in


def test_form_errors_and_values_are_escaped_and_fields_labelled() -> None:
    html = pages.signup(error=HOSTILE, username=HOSTILE, email="a@b.c")
    assert f'<p class="error" role="alert">{ESCAPED}</p>' in html
    assert f'value="{ESCAPED}"' in html
    for field in ("username", "email", "password"):
        assert f'<label for="{field}">' in html and f'id="{field}"' in html


def test_my_agents_offers_each_game_in_the_create_form() -> None:
    html = pages.my_agents([agent()], [{"id": "chess", "name": "Chess"}], user="ann")
    assert '<option value="chess">Chess</option>' in html
    assert ESCAPED in html and "<script>" not in html
    assert 'action="/me/agents"' in html


def match(**overrides: object) -> dict[str, object]:
    return {
        "id": "m-1",
        "agent1Id": "a-1",
        "agent2Id": "a-2",
        "agent1Name": HOSTILE,
        "agent2Name": "Beta",
        "agent1Version": 3,
        "agent2Version": 1,
        "agent1Status": "OK",
        "agent2Status": "TIMEOUT",
        "status": "completed",
        "winnerId": "a-1",
        "endReason": "three in a row",
        **overrides,
    }


def test_the_agent_page_shows_versions_and_the_upload_form_only_to_its_owner() -> None:
    versions = [{"id": "s-1", "version": 2, "status": "building", "isActive": False}]
    mine = agent_pages.agent(agent(), versions, [match()], [], user="ann", live_ticket="t1ck")
    assert '<tr data-submission-id="s-1"><td>v2</td><td class="build-status">building</td>' in mine
    assert '<label for="file">' in mine and 'type="file"' in mine and ">Upload</button>" in mine
    assert 'data-live-ticket="t1ck"' in mine
    assert "<script>" not in mine and ESCAPED in mine
    theirs = agent_pages.agent(agent(), None, [], [], user=None, live_ticket=None)
    assert 'id="upload"' not in theirs and "data-live-ticket" not in theirs


def test_the_match_page_names_both_sides_their_versions_statuses_and_the_result() -> None:
    html = agent_pages.match(match(), {"metadata": {"note": "</script><script>x()"}, "frames": []}, user=None)
    assert f"{ESCAPED}</a> (v3)" in html and "Beta</a> (v1)" in html
    assert "status TIMEOUT" in html and f"Result: {ESCAPED} won" in html and "End reason: three in a row" in html
    assert html.count("</script>") == 3  # app.js, the replay's JSON and player.js: the note cannot close one
    assert "\\u003c/script>\\u003cscript>x()" in html


def test_a_draw_and_a_match_without_replay() -> None:
    html = agent_pages.match(match(winnerId=None), None, user=None)
    assert "Result: draw" in html and "No replay for this match." in html and "player.js" not in html


def test_my_agents_say_the_newest_versions_build_status_and_which_version_plays() -> None:
    building = {"id": "s-4", "version": 4, "status": "building", "isActive": False}
    playing = {"id": "s-3", "version": 3, "status": "active", "isActive": True}
    failed = {"id": "s-1", "version": 1, "status": "failed", "isActive": False}
    assert pages.versions_summary(agent(), [building, playing]) == "v4 building · v3 in play"
    assert pages.versions_summary(agent(), [playing]) == "v3 in play"
    assert pages.versions_summary(agent(), [failed]) == "v1 failed · none in play"
    assert pages.versions_summary(agent(), []) == "no versions yet"
    html = pages.my_agents([agent()], [], user="ann", versions={str(agent()["id"]): [building, playing]})
    assert '<th scope="col">Versions</th>' in html and "<td>v4 building · v3 in play</td>" in html
