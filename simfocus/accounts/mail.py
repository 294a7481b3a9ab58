"""The mail outbox: mails are queued in the caller's transaction and sent later.

Without SMTP settings nothing is sent: the rows stay in ``mail_outbox`` so a local user
can open the verification or reset link from there (the log only points to the table —
the links carry tokens and logs travel further than the database).
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from email.message import EmailMessage
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.settings import Settings
from simfocus.store.models import MailOutbox, utcnow

logger = logging.getLogger(__name__)

VERIFY_EMAIL_PATH = "/v1/auth/verify-email"
RESET_PASSWORD_PATH = "/v1/auth/reset-password"
SMTP_TIMEOUT_S = 30
BATCH = 100


def link(settings: Settings, path: str, token: str) -> str:
    """An absolute link to ``path`` on the public URL carrying ``token``."""
    return f"{settings.public_url.rstrip('/')}{path}?{urlencode({'token': token})}"


def queue_mail(session: AsyncSession, to: str, subject: str, body: str, kind: str) -> MailOutbox:
    """Stage a mail in the caller's unit of work (sent only if that commits)."""
    row = MailOutbox(to_email=to, subject=subject, body=body, kind=kind)
    session.add(row)
    logger.info("mail queued to %s: %s (see mail_outbox)", to, subject)
    return row


async def deliver_pending(session: AsyncSession, settings: Settings) -> int:
    """Send unsent mails by SMTP when configured; return how many were sent.

    Failed ones keep their error and are retried on the next call. Flushes, never commits.
    """
    if not settings.smtp_host:
        return 0
    rows = (
        await session.scalars(
            select(MailOutbox)
            .where(MailOutbox.sent_at.is_(None))
            .order_by(MailOutbox.created_at)
            .limit(BATCH)
        )
    ).all()
    if not rows:
        return 0
    messages = [_message(settings, row) for row in rows]
    # smtplib blocks; a thread keeps the event loop serving requests meanwhile.
    outcomes = await asyncio.to_thread(_send_all, settings, messages)
    sent = 0
    for row, error in zip(rows, outcomes, strict=True):
        if error is not None:
            row.error = error
            logger.warning("mail %s to %s not sent: %s", row.id, row.to_email, error)
            continue
        row.sent_at = utcnow()
        row.error = None
        sent += 1
    await session.flush()
    return sent


def _message(settings: Settings, row: MailOutbox) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = row.to_email
    message["Subject"] = row.subject
    message.set_content(row.body)
    return message


def _send_all(settings: Settings, messages: list[EmailMessage]) -> list[str | None]:
    """Send over one connection; per message, None or the error (all fail if it can't open)."""
    try:
        with _connect(settings) as smtp:
            return [_send_one(smtp, message) for message in messages]
    except (OSError, smtplib.SMTPException) as exc:
        return [_describe(exc)] * len(messages)


def _send_one(smtp: smtplib.SMTP, message: EmailMessage) -> str | None:
    try:
        smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:  # this mail only; the connection is fine
        return _describe(exc)
    return None


def _connect(settings: Settings) -> smtplib.SMTP:
    smtp: smtplib.SMTP
    if settings.smtp_port == 465:  # implicit TLS
        smtp = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_S)
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_S)
    try:
        smtp.ehlo()
        if not isinstance(smtp, smtplib.SMTP_SSL) and smtp.has_extn("starttls"):
            smtp.starttls()
            smtp.ehlo()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
    except BaseException:
        smtp.close()
        raise
    return smtp


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]
