"""The agent page's parts on plain data: the rating chart, the versions' buttons and logs, the upload form."""

from __future__ import annotations

import re

from rlarena.web.agent_parts import rating_chart, upload_form, version_row
from rlarena.web.client import multipart


def entry(before: float, after: float) -> dict[str, object]:
    return {"eloBefore": before, "eloAfter": after}


def test_the_chart_draws_one_point_per_rated_match_and_the_start_oldest_first() -> None:
    svg = rating_chart([entry(1216, 1230), entry(1200, 1216)])  # the API lists the newest first
    assert svg.count("<circle") == svg.count("</circle>") == 3  # closed: no void elements in SVG
    assert 'aria-label="Elo over the last 2 rated matches: from 1200 to 1230"' in svg
    xs_and_ys = re.search(r'points="([^"]+)"', svg)
    assert xs_and_ys is not None
    heights = [float(p.split(",")[1]) for p in xs_and_ys.group(1).split()]
    assert heights[0] > heights[1] > heights[2]  # rising Elo: higher on the chart (smaller y)


def test_without_rated_matches_the_chart_says_so() -> None:
    assert "No rated matches yet." in rating_chart([])


def test_a_built_version_that_is_not_active_can_be_activated_and_a_failed_one_rebuilt() -> None:
    built = version_row("a1", {"id": "s1", "version": 1, "status": "inactive", "isActive": False, "buildLog": "ok"})
    assert 'action="/agents/a1/versions/s1/activate"' in built and "Activate v1" in built
    assert "<details><summary>Build log of v1</summary><pre>ok</pre></details>" in built
    failed = version_row("a1", {"id": "s2", "version": 2, "status": "failed", "buildLog": "<b>Traceback</b>"})
    assert 'action="/agents/a1/versions/s2/rebuild"' in failed and "activate" not in failed
    assert "&lt;b&gt;Traceback&lt;/b&gt;" in failed
    active = version_row("a1", {"id": "s3", "version": 3, "status": "active", "isActive": True})
    assert "<form" not in active and "<details" not in active


def test_the_upload_form_posts_the_file_to_the_web_and_shows_an_error() -> None:
    form = upload_form("a1", "too big")
    assert 'method="post"' in form and 'action="/agents/a1/upload"' in form
    assert 'enctype="multipart/form-data"' in form
    assert '<p class="error" role="alert">too big</p>' in form


def test_the_forwarded_multipart_body_keeps_the_bytes_and_drops_quotes_from_the_name() -> None:
    body, content_type = multipart({"agentId": "a1"}, 'x"\r\ny.py', b"\x00code\r\n")
    boundary = content_type.split("boundary=")[1]
    assert body.endswith(f"--{boundary}--\r\n".encode())
    assert b'filename="xy.py"' in body and b"\x00code\r\n\r\n--" in body
    assert b'name="agentId"\r\n\r\na1\r\n' in body
