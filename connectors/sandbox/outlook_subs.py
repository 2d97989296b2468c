"""Graph change-notification subscriptions (`state.outlook.subscriptions`)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.sandbox.outlook_models import OutlookError, iso

#: Outlook event subscriptions live at most 4230 minutes (longer requests are capped)
MAX_LIFETIME = timedelta(minutes=4230)
CHANGE_TYPES = ("created", "updated", "deleted")


@dataclass
class Subscription:
    id: str
    owner: str
    resource: str
    change_types: list[str]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expiration: datetime
    created: datetime
    #: the calendar it watches; None = every calendar of the mailbox (`/me/events`)
    calendar_id: str | None
    removed: bool = False
    reauthorization_required: bool = False
    reauthorized: int = 0
    notifications: int = 0
    lifecycle: list[str] = field(default_factory=list)

    def live(self, now: datetime) -> bool:
        return not self.removed and self.expiration > now

    def to_json(self) -> dict[str, Any]:
        return {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity",
            "id": self.id,
            "resource": self.resource,
            "applicationId": "00000000-0000-0000-0000-00000000cafe",
            "changeType": ",".join(self.change_types),
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": iso(self.expiration),
            "creatorId": self.owner,
            "latestSupportedTlsVersion": "v1_2",
            "notificationContentType": "application/json",
        }


def change_types(value: Any) -> list[str]:
    """`created,updated,deleted` as a list; 400 for anything else."""
    kinds = [k.strip() for k in str(value or "").split(",") if k.strip()]
    if not kinds or any(k not in CHANGE_TYPES for k in kinds):
        raise OutlookError(400, "InvalidRequest", f"changeType must be a subset of {CHANGE_TYPES}")
    return kinds


class SubscriptionStore:
    def __init__(self, lock: threading.RLock, clock: Callable[[], datetime]) -> None:
        self.lock = lock
        self.clock = clock
        self.by_id: dict[str, Subscription] = {}

    def expiry(self, wanted: datetime) -> datetime:
        """A requested expiration, capped at the maximum; 400 when in the past."""
        now = self.clock()
        if wanted <= now:
            raise OutlookError(
                400, "InvalidRequest", "Subscription expiration can only be in the future."
            )
        return min(wanted, now + MAX_LIFETIME)

    def add(self, **fields: Any) -> Subscription:
        with self.lock:
            sub = Subscription(id=str(uuid.uuid4()), created=self.clock(), **fields)
            self.by_id[sub.id] = sub
            return sub

    def get(self, owner: str | None, sub_id: str) -> Subscription:
        with self.lock:
            found = self.by_id.get(sub_id)
            if found is None or found.removed or (owner is not None and found.owner != owner):
                raise OutlookError(404, "ResourceNotFound", f"The object '{sub_id}' doesn't exist.")
            return found

    def watching(self, owner: str, calendar_id: str) -> list[Subscription]:
        """Live subscriptions that cover a calendar of a mailbox."""
        with self.lock:
            now = self.clock()
            return [
                s
                for s in self.by_id.values()
                if s.owner == owner and s.live(now) and s.calendar_id in (None, calendar_id)
            ]

    def dump(self) -> list[dict[str, Any]]:
        with self.lock:
            return [
                {
                    **s.to_json(),
                    "removed": s.removed,
                    "reauthorization_required": s.reauthorization_required,
                    "reauthorized": s.reauthorized,
                    "notifications": s.notifications,
                    "lifecycle": list(s.lifecycle),
                }
                for s in self.by_id.values()
            ]
