"""A function's HTTP target that answers GET /health before importing its API.

Importing an API module brings the platform's machinery (SQLAlchemy and its ORM, the models, the
pydantic schemas): about 0.3 s of a cold start on a small CPU. `DeferredApi` lets a function's
main.py import nothing of that. The first GET /health (Knative's probe) is answered from the
settings alone, with the body the API's own /health route renders, and starts importing the API
in the background once that answer is ready (started any earlier, the import would take the GIL
from the answer and only delay the probe), so the request that follows finds it loaded or nearly;
any other request imports it first (or waits for the import under way). Once loaded, every
request is the API's. The settings and the import run with the garbage collector paused
(rlarena.http.gc_pause).
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import flask

from rlarena import runtime
from rlarena.http.gc_pause import paused_collector
from rlarena.http.health import health_body
from rlarena.http.request_log import log_request

if TYPE_CHECKING:
    from werkzeug.exceptions import HTTPException

log = logging.getLogger("rlarena.http")


class DeferredApi:
    """Stands for the `api` (an HttpApi) of `module` until that module is imported."""

    def __init__(self, service: str, module: str) -> None:
        self.service = service
        self._module = module
        self._api: Any = None
        self._lock = threading.Lock()
        self._warming: threading.Thread | None = None

    def handle(self, request: flask.Request) -> flask.Response:
        api = self._api
        if api is None:
            early = self._early_health(request)
            if early is not None:
                return early
            api = self.load()
        return api.handle(request)  # type: ignore[no-any-return]

    def http_error(self, error: HTTPException) -> flask.Response:
        """For the hosting Flask app's error handler (see HttpApi.http_error)."""
        return self.load().http_error(error)  # type: ignore[no-any-return]

    def load(self) -> Any:
        """The API, imported now if nobody has yet."""
        if self._api is None:
            with self._lock:
                if self._api is None:
                    with paused_collector(first_import_of=self._module):
                        self._api = importlib.import_module(self._module).api
        return self._api

    def _early_health(self, request: flask.Request) -> flask.Response | None:
        """/health from the settings alone; None for anything else, a cross-origin request (the API
        adds its CORS headers) or settings that will not load (the API answers with the error)."""
        if request.method != "GET" or request.path.rstrip("/") != "/health" or "Origin" in request.headers:
            return None
        started = time.perf_counter()
        try:
            with paused_collector(first_import_of="rlarena.config"):
                settings = runtime.settings()
            body = health_body(self.service, settings)
        except Exception:  # the API reports it, as on any request
            return None
        response = flask.Response(
            json.dumps(body, ensure_ascii=False, separators=(",", ":")), mimetype="application/json"
        )
        log_request(request, response.status_code, time.perf_counter() - started, self.service)
        self._warm_up()
        return response

    def _warm_up(self) -> None:
        with self._lock:
            if self._warming is not None or self._api is not None:
                return
            self._warming = threading.Thread(target=self._load_quietly, name=f"import {self._module}", daemon=True)
        self._warming.start()

    def _load_quietly(self) -> None:
        try:
            self.load()
        except Exception:  # the next request imports it again and answers with the error
            log.exception("could not import %s", self._module)
