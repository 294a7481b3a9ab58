"""Share links: a read-only view of one discussion's transcript and report."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from simfocus.kit.models import InputModel, ValueModel

MAX_EXPIRY_S = 365 * 86_400


class ShareIn(InputModel):
    password: str | None = Field(default=None, min_length=4, max_length=200)
    expires_in: int | None = Field(
        default=None, ge=60, le=MAX_EXPIRY_S, description="seconds until the link stops working"
    )


class ShareOut(ValueModel):
    id: str
    discussion_id: str
    slug: str
    url: str
    has_password: bool
    expires_at: datetime | None
    revoked_at: datetime | None
    access_count: int
    created_at: datetime
    active: bool
