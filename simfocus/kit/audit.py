"""Audit log rows (logins, failed logins, key changes, discussion lifecycle, deletions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.store.models import AuditLog


@dataclass(frozen=True)
class ClientInfo:
    """Who is calling: from the HTTP request, for the audit log and rate limits."""

    ip: str | None = None
    user_agent: str | None = None


def audit(
    session: AsyncSession,
    action: str,
    *,
    user_id: str | None,
    client: ClientInfo | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Stage an audit row in the caller's unit of work (it commits with the change)."""
    session.add(
        AuditLog(
            user_id=user_id,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            details=details or {},
            ip_address=client.ip if client else None,
            user_agent=(client.user_agent or "")[:300] if client else None,
        )
    )
