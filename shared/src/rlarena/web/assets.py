"""What the web serves besides pages: its static files at /assets/ (with the replay player and the
vendored Swagger UI), the API reference at /api/v1/docs and the merged OpenAPI document."""

from __future__ import annotations

from functools import cache
from importlib import resources

import flask

from rlarena.errors import NotFound
from rlarena.web.routing import Context, WebApp, html
from rlarena.web.viewer import current_user

STATIC_TYPES = {".css": "text/css", ".js": "text/javascript"}
# Served at /assets/ from web/vendor/ (npm's swagger-ui-dist, unchanged; see its README there).
VENDORED = {name: ("vendor", "swagger-ui") for name in ("swagger-ui-bundle.js", "swagger-ui.css")}
CACHE_FOR = "public, max-age=300"


@cache
def static_file(name: str) -> bytes | None:
    if name.startswith(".") or "/" in name or name[name.rfind(".") :] not in STATIC_TYPES:
        return None
    if name == "player.js":  # the one replay player, shared with the HTML replay download
        from rlarena.replays import player_js

        return player_js().encode()
    folder = VENDORED.get(name, ("static",))
    resource = resources.files("rlarena.web").joinpath(*folder, name)
    return resource.read_bytes() if resource.is_file() else None


def add_asset_routes(api: WebApp) -> None:
    @api.route("/assets/<name>", "GET")
    def static(ctx: Context) -> flask.Response:
        name = ctx.path_text("name")
        content = static_file(name)
        if content is None:
            raise NotFound(f"There is no file {name!r}.")
        response = flask.Response(content, mimetype=STATIC_TYPES[name[name.rfind(".") :]])
        response.headers["Cache-Control"] = CACHE_FOR
        return response

    @api.route("/api/v1/docs", "GET")
    def api_docs(ctx: Context) -> flask.Response:
        from rlarena.web.api_reference import swagger_page

        return html(swagger_page(user=current_user(ctx)))

    @api.route("/api/v1/openapi.json", "GET")
    def openapi_document(ctx: Context) -> flask.Response:
        """The merged document of every function's routes (each function serves its own at the same path)."""
        from rlarena.web.api_reference import document_bytes

        response = flask.Response(document_bytes(), mimetype="application/json")
        response.headers["Cache-Control"] = CACHE_FOR
        return response
