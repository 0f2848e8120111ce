"""The console command `odoo-webhook-server`.

odoo-webhook-server [serve] [--host H] [--port P]   the API (production)
odoo-webhook-server init-db [--database-url URL]    create the schema
odoo-webhook-server demo [--host H] [--port P]      everything, no Odoo needed
"""

from __future__ import annotations

import argparse
import logging
import sys

from pydantic import ValidationError

from . import __version__
from .config import Settings
from .storage.pool import InvalidDatabaseUrl, check_conninfo, database_error_reason, safe_conninfo

__all__ = ["main"]


def _add_bind(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="odoo-webhook-server",
        description="Smart sync between Odoo 18 and mobile apps. Configuration comes from the "
        "environment or .env: DATABASE_URL, ODOO_URL, ODOO_DB (see README).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_bind(parser)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="serve the API (the default)")
    _add_bind(serve)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument("--access-log", action="store_true", help="log every request")
    init = commands.add_parser("init-db", help="create the sync tables in an empty database")
    init.add_argument("--database-url", help="libpq URI (default: DATABASE_URL)")
    archive = commands.add_parser(
        "archive",
        help="apply the archiving rules now (what the addon's daily cron does)",
    )
    archive.add_argument("--database-url", help="libpq URI (default: DATABASE_URL)")
    archive.add_argument("--batch-size", type=int, default=5000)
    demo = commands.add_parser(
        "demo", help="run a throwaway PostgreSQL, a simulated Odoo and the API, and print curls"
    )
    _add_bind(demo)
    demo.add_argument("--database-url", help="use this database instead of a throwaway one")
    return parser


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.command == "init-db":
        from .storage.schema import init_db

        url = args.database_url or Settings().database_url
        init_db(url)
        print(f"Schema ready in {safe_conninfo(url)}")
        return 0
    if args.command == "archive":
        import json

        import psycopg
        from odoo_webhook_core.archiving import read_policy, run_archiving

        url = args.database_url or Settings().database_url
        with psycopg.connect(url) as conn, conn.cursor() as cur:
            summary = run_archiving(
                cur, read_policy(cur), batch_size=args.batch_size, commit=conn.commit
            )
        from .observability.metrics import record_archiving

        record_archiving(summary)  # seen by the server's /metrics with a shared metrics dir
        print(json.dumps(summary, default=str))
        return 0
    if args.command == "demo":
        from .demo.run import PortInUse, run_demo

        try:
            run_demo(args.host, args.port, args.database_url)
        except PortInUse as exc:
            return _fail(str(exc))
        return 0
    import uvicorn

    from .observability.logging import uvicorn_log_config
    from .observability.multiproc import prepare_metrics_dir

    check_conninfo(Settings().database_url)  # fail now, in one line, on bad configuration
    cleanup_metrics = prepare_metrics_dir(args.workers)  # workers add up their /metrics
    log_config = uvicorn_log_config(Settings().log_format)
    try:
        uvicorn.run(
            "odoo_webhook_server.main:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="info",
            access_log=args.access_log,
            proxy_headers=True,
            log_config=log_config or uvicorn.config.LOGGING_CONFIG,
        )
    finally:
        cleanup_metrics()
    return 0


def _fail(message: str) -> int:
    print(f"odoo-webhook-server: {message}", file=sys.stderr)
    return 1


def _database_named(args: argparse.Namespace) -> str:
    url = getattr(args, "database_url", None)
    if not url:
        try:
            url = Settings().database_url
        except ValidationError:
            return ""
    return f" {safe_conninfo(url)}"


def main(argv: list[str] | None = None) -> int:
    """Run a command. A bad setting, or a database that is unreachable or
    misconfigured, ends in one line on stderr and exit status 1: no traceback."""
    import psycopg

    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        )
        return _fail(f"invalid setting {problems}")
    except InvalidDatabaseUrl as exc:
        return _fail(str(exc))
    except psycopg.errors.UndefinedTable:
        return _fail(
            f"the sync tables are missing in the database{_database_named(args)}: install"
            " the custom_model_webhook addon (or run init-db)"
        )
    except psycopg.Error as exc:
        reason = database_error_reason(exc)
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if reason == "invalid DATABASE_URL":
            return _fail(f"invalid DATABASE_URL: {detail}")
        if reason == "database unreachable":  # no known cause: say what libpq said
            reason = detail
        return _fail(f"cannot use the database{_database_named(args)}: {reason}")


if __name__ == "__main__":
    sys.exit(main())
