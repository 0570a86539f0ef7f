"""The auth function: /api/v1/auth/* and /api/v1/users/me."""

from __future__ import annotations

from rlarena import runtime
from rlarena.entrypoints.views import stats_view, user_view
from rlarena.http.api import Context, HttpApi, Reply
from rlarena.http.health import add_health
from rlarena.service import accounts
from rlarena.service.commands import LogIn, RegisterUser, UpdateProfile

api = HttpApi("auth", runtime.platform)
add_health(api)


@api.route("/api/v1/auth/register", "POST")
def register(ctx: Context) -> Reply:
    session = accounts.register(ctx.platform, ctx.body(RegisterUser), ctx.client_ip())
    return Reply({"token": session.token, "user": user_view(session.user)}, 201)


@api.route("/api/v1/auth/login", "POST")
def login(ctx: Context) -> Reply:
    session = accounts.log_in(ctx.platform, ctx.body(LogIn), ctx.client_ip())
    return Reply({"token": session.token, "user": user_view(session.user)})


@api.route("/api/v1/users/me", "GET")
def me(ctx: Context) -> Reply:
    user, stats = accounts.profile(ctx.platform, ctx.user_id())
    return Reply({"user": user_view(user), "stats": stats_view(stats)})


@api.route("/api/v1/users/me", "PUT", "PATCH")
def update_me(ctx: Context) -> Reply:
    user_id = ctx.user_id()
    user = accounts.update_profile(ctx.platform, user_id, ctx.body(UpdateProfile))
    return Reply({"user": user_view(user)})
