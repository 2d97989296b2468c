"""Provider connectors and the registry that maps a slug to its connector."""

from __future__ import annotations

from connectors.base import Connector

REGISTRY: dict[str, Connector] = {}


def register(connector: Connector) -> Connector:
    """Add a connector under its slug (the only place that branches on provider)."""
    REGISTRY[connector.slug] = connector
    return connector


def get(slug: str) -> Connector | None:
    """The connector for a slug, or None."""
    return REGISTRY.get(slug)


def _load_builtin() -> None:
    from connectors import calcom, daily, google, outlook, stripe  # noqa: F401  (register themselves)


_load_builtin()
