"""`rlarena dev` runs the local platform; `rlarena migrate` upgrades a database (production Job);
the author's commands (play, validate, new, compare, login, submit, ...) live in rlarena.authoring."""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

from rlarena.errors import ConfigurationError

# The author's commands, each a module with configure(parser) and run(arguments) -> exit code.
AUTHOR_COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("rlarena.authoring.validate", "the platform's upload checks and validation match, locally"),
    "new": ("rlarena.authoring.new", "a starter agent for a game in a new folder"),
    "login": ("rlarena.authoring.login", "log in to a running platform and keep the token"),
    "submit": ("rlarena.authoring.submit", "upload a new version of an agent and follow its build"),
    "status": ("rlarena.authoring.status", "my agents: Elo, record, active version, latest build"),
    "matches": ("rlarena.authoring.matches", "recent matches of my agents, with results"),
    "logs": ("rlarena.authoring.logs", "what my agents printed in a match"),
    "replay": ("rlarena.authoring.replay", "download a match's replay (JSON or HTML)"),
    "play": ("rlarena.authoring.play", "play matches between two agents on this machine, in the platform's sandbox"),
    "compare": ("rlarena.authoring.compare", "does NEW beat OLD? paired matches and a sequential test (SPRT)"),
}


def _author_module(command: str) -> ModuleType:
    return importlib.import_module(AUTHOR_COMMANDS[command][0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rlarena", description="RL Arena platform commands")
    commands = parser.add_subparsers(dest="command", required=True)
    dev = commands.add_parser("dev", help="run the whole platform locally on one port")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=None, help="default: $PORT or 8080")
    commands.add_parser("migrate", help="upgrade DATABASE_URL to the latest schema")
    executor = commands.add_parser("executor", help="serve the match executor over gRPC (h2c)")
    executor.add_argument(
        "--address", default=None, help="host:port to listen on (default: [::] and the port of EXECUTOR_URL)"
    )
    executor.add_argument(
        "--parent-pid", type=int, default=None, help="die with this process, the parent (the local platform)"
    )
    match_pod = commands.add_parser("match-pod", help="play one match as a match Pod's runner (USE_K8S=true)")
    match_pod.add_argument("--spec", required=True, help="the match as JSON, written by the executor into the Job")
    for command, (_module, summary) in AUTHOR_COMMANDS.items():
        _author_module(command).configure(commands.add_parser(command, help=summary, description=summary))
    arguments = parser.parse_args(argv)
    try:
        if arguments.command in AUTHOR_COMMANDS:
            exit_code: int = _author_module(arguments.command).run(arguments)
            return exit_code
        if arguments.command == "dev":
            return _dev(arguments.host, arguments.port)
        if arguments.command == "executor":
            if arguments.parent_pid is not None:
                from rlarena.platform.executor_child import die_with_parent

                die_with_parent(arguments.parent_pid)
            return _executor(arguments.address)
        if arguments.command == "match-pod":
            from rlarena.executor.pod_runner import main as play_in_pod

            return play_in_pod(["--spec", arguments.spec])
        return _migrate()
    except ConfigurationError as error:
        print(f"rlarena: {error.message}", file=sys.stderr)
        return 2


def _dev(host: str, port: int | None) -> int:
    import uvicorn

    from rlarena.config import load_settings
    from rlarena.logs import configure_logging
    from rlarena.platform.local import asgi_app, build

    settings = load_settings()
    configure_logging(settings.log_level, structured=settings.is_production)
    port = port or settings.port
    local = build(settings, port=port)
    print(f"RL Arena is running on http://{host}:{port}  (API under /api/v1, Ctrl-C to stop)", flush=True)
    print(f"  database: {_redacted(settings.resolved_database_url)}", flush=True)
    uvicorn.run(asgi_app(local), host=host, port=port, log_level="warning", lifespan="on")
    print("RL Arena stopped.", flush=True)
    return 0


def _executor(address: str | None) -> int:
    from rlarena.config import load_settings
    from rlarena.executor.app import serve
    from rlarena.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level, structured=settings.is_production)
    # Graceful on SIGTERM/SIGINT: running matches get EXECUTOR_SHUTDOWN_GRACE_SECONDS to finish.
    return serve(settings, address)


def _migrate() -> int:
    from rlarena.adapters.db.engine import make_engine
    from rlarena.adapters.db.migrate import upgrade_to_head
    from rlarena.config import load_settings
    from rlarena.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level, structured=settings.is_production)
    engine = make_engine(settings.resolved_database_url)
    upgrade_to_head(engine)
    engine.dispose()
    print(f"migrated {_redacted(settings.resolved_database_url)} to the latest schema")
    return 0


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
