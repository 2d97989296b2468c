"""The `sessionhub` command."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from app.config import ConfigError

log = logging.getLogger("sessionhub")


def _app(start_worker: bool = False):  # type: ignore[no-untyped-def]
    from app import create_app

    try:
        return create_app(start_worker=start_worker)
    except ConfigError as err:
        click.echo(f"configuration error: {err}", err=True)
        sys.exit(2)


@click.group()
def main() -> None:
    """SessionHub: keeps coaching sessions in step across providers."""


@main.command()
def migrate() -> None:
    """Apply database migrations (alembic upgrade head)."""
    from app.migrate import upgrade

    app = _app()
    with app.app_context():
        upgrade(app.extensions["sessionhub"].db.url)
    click.echo("database is up to date")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the hub (embedded mode: web, worker thread and scheduler in one process)."""
    from werkzeug.serving import run_simple

    from jobs.schedule import start_thread

    app = _app(start_worker=True)
    h = app.extensions["sessionhub"]
    if h.settings.embedded:
        start_thread(app, h)
    else:
        log.warning(
            "REDIS_URL is set: run `sessionhub worker` for jobs; use gunicorn in production"
        )
    log.info("SessionHub listening on http://%s:%d", host, port)
    run_simple(host, port, app, threaded=True, use_reloader=False)


@main.command()
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker with the scheduler (needs REDIS_URL)."""
    from jobs.worker import work

    work(burst=burst)


@main.command()
def sweep() -> None:
    """Run every periodic sweep once, and (embedded mode) the jobs they queue."""
    from app.queue import InProcessQueue
    from jobs.sweeps import run_all

    app = _app()
    with app.app_context():
        results = run_all()
        queue = app.extensions["sessionhub"].queue
        if isinstance(queue, InProcessQueue):
            queue.run_until_idle(timeout=300)
    click.echo(json.dumps(results))


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def sandbox(ctx: click.Context) -> None:
    """Run the provider sandbox (loopback Cal.com and Daily); --help lists its options."""
    from connectors.sandbox.__main__ import main as sandbox_main

    sandbox_main(list(ctx.args))


@main.command()
def demo() -> None:
    """Play a booking → reschedule → call → cancel story against the sandbox."""
    from app.demo import run_demo

    run_demo(click.echo)


@main.group("api-key")
def api_key() -> None:
    """Create, list and revoke API keys."""


@api_key.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, default=("api",), show_default=True)
def api_key_create(name: str, scopes: tuple[str, ...]) -> None:
    """Create a key; it is printed once and only its hash is kept."""
    from app.apikeys import create_key
    from app.errors import HubError

    app = _app()
    try:
        with app.app_context(), app.extensions["sessionhub"].db.session() as db:
            _, token = create_key(db, name, scopes)
    except HubError as err:
        raise click.ClickException(err.message) from err
    click.echo(token)


@api_key.command("list")
def api_key_list() -> None:
    """List keys (names, prefixes, state; never the keys)."""
    from app.apikeys import list_keys

    app = _app()
    with app.extensions["sessionhub"].db.session() as db:
        for key in list_keys(db):
            state = "revoked" if key.revoked_at else "active"
            used = key.last_used_at.isoformat() if key.last_used_at else "never"
            click.echo(f"{key.name}\t{key.prefix}…\t{state}\tlast used {used}")


@api_key.command("revoke")
@click.argument("name")
def api_key_revoke(name: str) -> None:
    """Revoke a key by name."""
    from app.apikeys import revoke_key
    from app.errors import HubError

    app = _app()
    try:
        with app.extensions["sessionhub"].db.session() as db:
            revoke_key(db, name)
    except HubError as err:
        raise click.ClickException(err.message) from err
    click.echo(f"revoked {name}")


@main.group()
def deliveries() -> None:
    """Inspect and replay webhook deliveries."""


@deliveries.command("replay")
@click.argument("delivery_id", type=int)
def deliveries_replay(delivery_id: int) -> None:
    """Run ingestion of one delivery again (idempotent)."""
    from app.models import WebhookDelivery
    from app.queue import InProcessQueue
    from jobs.ingest import ingest_delivery

    app = _app()
    h = app.extensions["sessionhub"]
    with app.app_context():
        with h.db.session() as db:
            if db.get(WebhookDelivery, delivery_id) is None:
                raise click.ClickException(f"no delivery {delivery_id}")
        state = ingest_delivery(delivery_id, True)
        if isinstance(h.queue, InProcessQueue):
            h.queue.run_until_idle(timeout=60)
    click.echo(f"delivery {delivery_id}: {state}")


@main.command("rotate-keys")
@click.option("--batch", default=100, show_default=True, type=click.IntRange(1, 10000))
def rotate_keys(batch: int) -> None:
    """Re-encrypt every stored token and secret under the newest encryption key."""
    from app.rotation import ColumnReport
    from app.rotation import rotate_keys as rotate

    def show(report: ColumnReport) -> None:
        click.echo(
            f"{report.name}: {report.rotated} re-encrypted, {report.current} already current, "
            f"{len(report.unreadable)} unreadable"
        )

    app = _app()
    h = app.extensions["sessionhub"]
    try:
        with app.app_context():
            reports = rotate(h, batch, progress=show)
    finally:
        h.db.dispose()
    unreadable = [f"{r.name} id {i}" for r in reports for i in r.unreadable]
    busy = [f"{r.name} id {i}" for r in reports for i in r.busy]
    if unreadable:
        click.echo(
            f"error: {len(unreadable)} stored value(s) cannot be decrypted by any key in "
            "SESSIONHUB_ENCRYPTION_KEYS: " + ", ".join(unreadable) + ". Add back the key that "
            "sealed them (or re-link / re-create those rows); do not remove any key yet.",
            err=True,
        )
        sys.exit(1)
    if busy:
        click.echo(
            f"error: {len(busy)} value(s) changed during the run: "
            + ", ".join(busy)
            + ". Run rotate-keys again.",
            err=True,
        )
        sys.exit(1)
    click.echo("every stored secret is sealed with the newest key; older keys can be removed")


if __name__ == "__main__":  # pragma: no cover
    main(Path(sys.argv[0]).name)
