"""Payment policies: hold a session until it is paid, and flag what ops must look at."""

from __future__ import annotations

from typing import Any

from app.models import Coach, Session

REFUNDED = ("refunded", "partially_refunded")
LIVE = ("requested", "confirmed", "awaiting_reschedule")


def apply_payment_policy(
    session: Session, coach: Coach | None, want: dict[str, Any], *, new: bool
) -> None:
    """Adjust the wanted status for a coach who requires payment (off by default).

    A session that requires payment stays `requested` until it is paid, and is confirmed by
    the payment when nothing else stands in the way (the coach auto-confirms).
    """
    if coach is None or not coach.requires_payment:
        return
    payment = want.get("payment_status", session.payment_status)
    status = want.get("status", session.status)
    if status == "confirmed" and payment != "paid" and (new or session.status == "requested"):
        want["status"] = "requested"
    elif payment == "paid" and status == "requested" and coach.auto_confirm:
        want["status"] = "confirmed"


def review_flag(session: Session, diff: dict[str, tuple[Any, Any]]) -> str | None:
    """Why ops should look at this change, if they should."""
    if "payment_status" in diff and diff["payment_status"][1] in REFUNDED:
        status = diff.get("status", (None, session.status))[1]
        if status in LIVE:
            return "refund_on_live_session"
    return None
