"""OpenAPI links between operations: where a client (or schemathesis) goes next with an id."""

from __future__ import annotations

from collections.abc import Iterable

#: what can be done with a coach id
COACH = (
    "get_coach",
    "update_coach",
    "get_availability",
    "put_availability",
    "get_slots",
    "connections",
    "create_feed",
    "revoke_feed",
)

#: what can be done with a session id
SESSION = (
    "get_session",
    "reschedule_session",
    "session_events",
    "session_ics",
    "summary",
    "join",
    "confirm",
    "reject",
    "cancel",
    "outcome",
)


def of(
    parameter: str, operations: Iterable[str], value: str = "$response.body#/id"
) -> dict[str, tuple[str, dict[str, str]]]:
    """Links passing `value` as `parameter` to each operation (named by operationId)."""
    return {
        "".join(part.title() for part in operation.split("_")): (operation, {parameter: value})
        for operation in operations
    }
