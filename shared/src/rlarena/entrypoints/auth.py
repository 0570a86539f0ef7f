"""The auth function: /api/v1/auth/* and /api/v1/users/me."""

from __future__ import annotations

from rlarena import runtime
from rlarena.entrypoints.views import stats_view, user_view
from rlarena.http.api import Context, HttpApi, Reply
from rlarena.http.health import add_health
from rlarena.http.operation import schemas
from rlarena.http.self_description import add_openapi
from rlarena.service import accounts
from rlarena.service.commands import LogIn, RegisterUser, UpdateProfile

api = HttpApi("auth", runtime.platform)
add_health(api)
add_openapi(api)

model = schemas("auth")


@api.route(
    "/api/v1/auth/register",
    "POST",
    summary="Create an account",
    description="Sign up with a username, an email and a password; answers a bearer token and the account. "
    "Attempts are limited per client address (AUTH_RATE_LIMIT_PER_MINUTE).",
    tags=("auth",),
    body=RegisterUser,
    responses={201: model("Session")},
    errors=(409,),
    rate_limited=True,
)
def register(ctx: Context) -> Reply:
    session = accounts.register(ctx.platform, ctx.body(RegisterUser), ctx.client_ip())
    return Reply({"token": session.token, "user": user_view(session.user)}, 201)


@api.route(
    "/api/v1/auth/login",
    "POST",
    summary="Log in",
    description="With an email (or a username) and the password; answers a bearer token and the account. "
    "Attempts are limited per client address (AUTH_RATE_LIMIT_PER_MINUTE).",
    tags=("auth",),
    body=LogIn,
    responses={200: model("Session")},
    rate_limited=True,
    errors=(401,),
)
def login(ctx: Context) -> Reply:
    session = accounts.log_in(ctx.platform, ctx.body(LogIn), ctx.client_ip())
    return Reply({"token": session.token, "user": user_view(session.user)})


@api.route(
    "/api/v1/users/me",
    "GET",
    summary="The caller's account and statistics",
    description="The account of the bearer token, with its submissions, active agents, matches, wins and best rank.",
    tags=("users",),
    auth="bearer",
    responses={200: model("Profile")},
)
def me(ctx: Context) -> Reply:
    user, stats = accounts.profile(ctx.platform, ctx.user_id())
    return Reply({"user": user_view(user), "stats": stats_view(stats)})


@api.route(
    "/api/v1/users/me",
    "PUT",
    "PATCH",
    summary="Change the caller's profile",
    description="The full name and the avatar URL (http or https); fields left out stay as they are.",
    tags=("users",),
    auth="bearer",
    body=UpdateProfile,
    responses={200: model("UserReply")},
)
def update_me(ctx: Context) -> Reply:
    user_id = ctx.user_id()
    user = accounts.update_profile(ctx.platform, user_id, ctx.body(UpdateProfile))
    return Reply({"user": user_view(user)})
