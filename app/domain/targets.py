"""Which providers a session lives at: the policy behind reconciliation."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session as Db
from sqlmodel import select

from app.calendars import connected_providers
from app.db import utcnow
from app.models import Coach, ProviderLink, Session


def wanted_providers(
    session: Session,
    coach: Coach | None,
    links: Iterable[ProviderLink],
    writable: frozenset[str],
    calendars: Iterable[str] = (),
) -> set[str]:
    """Providers the hub itself must write this session to (beyond the ones already linked).

    A video session needs a Daily room unless it already has a join URL from elsewhere (Cal
    Video, Google Meet, Zoom…): the hub never replaces a room another system manages.
    """
    active = [link for link in links if link.active]
    wanted: set[str] = set()
    has_daily = any(link.provider == "daily" for link in active)
    if (
        "daily" in writable
        and session.kind == "video"
        and not has_daily
        and not session.meeting_url
    ):
        wanted.add("daily")
    # a live session appears in every calendar the coach has linked
    if session.status not in ("cancelled", "rejected"):
        linked = {link.provider for link in links}
        wanted |= {provider for provider in calendars if provider not in linked}
    # a session made in the hub is booked in Cal.com too when the coach books there
    has_calcom = any(link.provider == "calcom" for link in links)
    if (
        "calcom" in writable
        and not has_calcom
        and session.source != "calcom"
        and coach is not None
        and coach.calcom_event_type_id
        and session.status not in ("rejected", "cancelled")
    ):
        wanted.add("calcom")
    return wanted


def plan_links(db: Db, session: Session, writable: frozenset[str]) -> tuple[str, ...]:
    """Create the links the policy wants; return every provider with a pending managed link."""
    links = list(db.exec(select(ProviderLink).where(ProviderLink.session_id == session.id)))
    coach = db.get(Coach, session.coach_id)
    calendars = connected_providers(db, session.coach_id)
    writable = writable | calendars
    for provider in sorted(wanted_providers(session, coach, links, writable, calendars)):
        link = ProviderLink(
            session_id=session.id, provider=provider, state="pending", data={"managed": True}
        )
        db.add(link)
        links.append(link)
    db.flush()
    return tuple(
        sorted(
            {
                link.provider
                for link in links
                if link.active
                and link.state == "pending"
                and link.provider in writable
                and link.data.get("managed", True)
            }
        )
    )


def unmanaged(link: ProviderLink) -> bool:
    """A link to an object another system owns (a Cal Video room): never written by the hub."""
    return link.data.get("managed") is False


def touch(link: ProviderLink) -> None:
    """Stamp a link as changed now."""
    link.updated_at = utcnow()
