"""Background jobs: thin functions that load state, call the domain and connectors, save."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

_app: Flask | None = None


def bind(app: Flask) -> None:
    """Make this app the one jobs run in (the newest app of the process wins)."""
    global _app
    _app = app


def job_app() -> Flask:
    """The app jobs run in, created from the environment when none was bound."""
    global _app
    if _app is None:
        from app import create_app

        _app = create_app()
    return _app
