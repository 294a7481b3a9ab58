"""The mail outbox: queued in the caller's transaction, sent by SMTP only when configured."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.accounts import mail
from simfocus.accounts.mail import deliver_pending, link, queue_mail
from simfocus.settings import Settings
from simfocus.store.models import MailOutbox


class FakeSMTP:
    sent: list[EmailMessage] = []
    logins: list[tuple[str, str]] = []
    fail_for: set[str] = set()

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port = host, port

    def close(self) -> None:
        return None

    def __enter__(self) -> FakeSMTP:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def ehlo(self) -> None:
        return None

    def has_extn(self, name: str) -> bool:
        return False

    def login(self, user: str, password: str) -> None:
        self.logins.append((user, password))

    def send_message(self, message: EmailMessage) -> None:
        if message["To"] in self.fail_for:
            raise smtplib.SMTPRecipientsRefused({message["To"]: (550, b"no such mailbox")})
        self.sent.append(message)


@pytest.fixture
def fake_smtp(monkeypatch: pytest.MonkeyPatch) -> type[FakeSMTP]:
    FakeSMTP.sent, FakeSMTP.logins, FakeSMTP.fail_for = [], [], {"bad@example.com"}
    monkeypatch.setattr(mail.smtplib, "SMTP", FakeSMTP)
    return FakeSMTP


def test_links_use_the_public_url(tmp_path: Path) -> None:
    settings = Settings(environment="test", data_dir=tmp_path, public_url="https://sf.example/")
    assert link(settings, "/v1/auth/verify-email", "a-b_c") == (
        "https://sf.example/v1/auth/verify-email?token=a-b_c"
    )


async def test_without_smtp_mails_stay_in_the_outbox(
    session: AsyncSession, auth_settings: Settings, fake_smtp: type[FakeSMTP]
) -> None:
    queue_mail(session, "ada@example.com", "Hi", "body", "test")
    assert await deliver_pending(session, auth_settings) == 0
    row = await session.scalar(select(MailOutbox))
    assert row is not None and row.sent_at is None and fake_smtp.sent == []


async def test_smtp_delivery_marks_sent_and_keeps_errors(
    session: AsyncSession, tmp_path: Path, fake_smtp: type[FakeSMTP]
) -> None:
    settings = Settings(
        environment="test",
        data_dir=tmp_path,
        smtp_host="smtp.example",
        smtp_user="mailer",
        smtp_password=SecretStr("smtp-pass"),
        smtp_from="noreply@sf.example",
    )
    queue_mail(session, "ada@example.com", "Hi", "the body", "test")
    queue_mail(session, "bad@example.com", "Hi", "the body", "test")
    await session.flush()
    assert await deliver_pending(session, settings) == 1
    rows: dict[str, Any] = {
        r.to_email: r for r in (await session.scalars(select(MailOutbox))).all()
    }
    assert rows["ada@example.com"].sent_at is not None
    assert rows["bad@example.com"].sent_at is None
    assert "SMTPRecipientsRefused" in rows["bad@example.com"].error
    (message,) = fake_smtp.sent
    assert message["From"] == "noreply@sf.example" and message.get_content().strip() == "the body"
    assert fake_smtp.logins == [("mailer", "smtp-pass")]
    assert await deliver_pending(session, settings) == 0  # sent ones are not sent twice


async def test_an_unreachable_server_fails_every_mail_of_the_batch(
    session: AsyncSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(mail.smtplib, "SMTP", refuse)
    settings = Settings(environment="test", data_dir=tmp_path, smtp_host="smtp.example")
    queue_mail(session, "ada@example.com", "Hi", "body", "test")
    queue_mail(session, "bob@example.com", "Hi", "body", "test")
    assert await deliver_pending(session, settings) == 0
    rows = (await session.scalars(select(MailOutbox))).all()
    assert all(r.sent_at is None and "ConnectionRefusedError" in (r.error or "") for r in rows)
