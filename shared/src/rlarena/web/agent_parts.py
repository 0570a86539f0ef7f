"""Parts of the agent page: the rating chart (inline SVG, no script), the versions with their build
logs and buttons, and the upload form (a plain multipart post; app.js uploads in place instead)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rlarena.web.markup import Html, join, tag, void

Json = Mapping[str, Any]
WIDTH, HEIGHT, PAD = 600, 200, 40


def rating_chart(history: Sequence[Json]) -> Html:
    """Elo after each rated match, oldest first (the API lists the newest first)."""
    points = [float(entry["eloAfter"]) for entry in reversed(history) if entry.get("eloAfter") is not None]
    if not points:
        return tag("p", "No rated matches yet.", class_="muted", id="rating-chart")
    if history and history[-1].get("eloBefore") is not None:
        points.insert(0, float(history[-1]["eloBefore"]))
    low, high = min(points), max(points)
    span = (high - low) or 1.0
    step = (WIDTH - 2 * PAD) / max(len(points) - 1, 1)

    def y(value: float) -> float:
        return HEIGHT - PAD - (value - low) / span * (HEIGHT - 2 * PAD)

    # SVG in HTML: every element is closed (`<line></line>`), as foreign content has no void elements.
    line = " ".join(f"{PAD + i * step:.1f},{y(v):.1f}" for i, v in enumerate(points))
    summary = f"Elo over the last {len(points) - 1} rated matches: from {points[0]:.0f} to {points[-1]:.0f}"
    return tag(
        "svg",
        tag("title", summary),
        tag("line", x1=PAD, y1=y(high), x2=WIDTH - PAD, y2=y(high)),
        tag("line", x1=PAD, y1=y(low), x2=WIDTH - PAD, y2=y(low)),
        tag("text", f"{high:.0f}", x=2, y=y(high) + 4),
        tag("text", f"{low:.0f}", x=2, y=y(low) + 4),
        tag("polyline", points=line),
        *(tag("circle", cx=f"{PAD + i * step:.1f}", cy=f"{y(v):.1f}", r=3) for i, v in enumerate(points)),
        id="rating-chart",
        class_="chart",
        role="img",
        aria_label=summary,
        viewBox=f"0 0 {WIDTH} {HEIGHT}",
        xmlns="http://www.w3.org/2000/svg",
    )


def _action(agent_id: str, submission: Json, action: str, label: str) -> Html:
    return tag(
        "form",
        tag("button", label, type="submit"),
        method="post",
        action=f"/agents/{agent_id}/versions/{submission.get('id')}/{action}",
        class_="inline",
    )


def version_row(agent_id: str, submission: Json) -> Html:
    version, status = submission.get("version"), submission.get("status")
    note = submission.get("errorMessage") or ("active version" if submission.get("isActive") else "")
    log = submission.get("buildLog")
    actions: list[Html] = []
    if status in ("active", "inactive") and not submission.get("isActive"):
        actions.append(_action(agent_id, submission, "activate", f"Activate v{version}"))
    if status == "failed":
        actions.append(_action(agent_id, submission, "rebuild", f"Rebuild v{version}"))
    return tag(
        "tr",
        tag("td", f"v{version}"),
        tag("td", status, class_="build-status"),
        tag(
            "td",
            tag("span", note, class_="note"),
            tag("details", tag("summary", f"Build log of v{version}"), tag("pre", log)) if log else "",
        ),
        tag("td", join(actions)),
        data_submission_id=submission.get("id"),
    )


def versions_table(agent_id: str, submissions: Sequence[Json]) -> Html:
    head = tag("thead", tag("tr", *(tag("th", h, scope="col") for h in ("Version", "Build status", "Note", ""))))
    return tag("table", head, tag("tbody", *(version_row(agent_id, s) for s in submissions)), id="versions")


def upload_form(agent_id: str, error: str | None = None) -> Html:
    return tag(
        "form",
        tag("h2", "Upload a new version"),
        tag("p", error, class_="error", role="alert") if error else "",
        tag(
            "p",
            tag("label", "Agent file (.py, .zip or .tar.gz)", for_="file"),
            void("input", id="file", name="file", type="file", accept=".py,.zip,.tar.gz,.tgz", required=True),
        ),
        tag("button", "Upload", type="submit"),
        tag("p", "", id="upload-status", role="status", aria_live="polite"),
        id="upload",
        method="post",
        action=f"/agents/{agent_id}/upload",
        enctype="multipart/form-data",
        data_agent_id=agent_id,
    )
