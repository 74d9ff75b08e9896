"""One-off mail from the organisation: sign-up confirmations, staff notices, previews.

There is one way out for it, the same channel choice and transport as editions (Maildir
outbox or SMTP, with TLS verification, AUTH and DKIM settings), without the edition
ledger.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from digest.channels.replies import Reply, Verdict, classify
from digest.config import MaildirChannel, Settings, SmtpChannel
from digest.errors import DigestError


class MailNotSent(DigestError):
    """The email channel did not accept a system message."""


def system_message(
    settings: Settings,
    *,
    to: str | list[str],
    subject: str,
    text: str,
    html: str | None = None,
    now: datetime | None = None,
) -> EmailMessage:
    """A message from the organisation's sender, marked auto-generated (RFC 3834)."""
    org = settings.organization
    local, _, domain = org.sender.email.rpartition("@")
    message = EmailMessage()
    message["From"] = Address(org.sender.name, local, domain)
    message["To"] = to if isinstance(to, str) else ", ".join(to)
    if org.reply_to:
        message["Reply-To"] = org.reply_to
    message["Subject"] = subject
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # no auto-replies to this
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def send_system_message(
    settings: Settings, message: EmailMessage, *, newsletter: str | None = None
) -> None:
    """Send through the newsletter's email channel, or the first one configured.

    Raises MailNotSent naming every recipient the channel did not accept.
    """
    from digest.delivery.sender import email_channel, make_transport, run_coroutine

    _, config = email_channel(
        settings, newsletter or "", _first_email_channel(settings, newsletter)
    )
    recipients = [address.addr_spec for address in message["To"].addresses]
    data = message.as_bytes(policy=policy.SMTP)

    async def send() -> dict[str, Reply]:
        transport = make_transport(settings, config)
        await transport.open()
        try:
            return await transport.send(0, settings.organization.sender.email, recipients, data)
        finally:
            await transport.close()

    replies = run_coroutine(send())
    refused = {r: reply for r, reply in replies.items() if classify(reply) is not Verdict.SENT}
    if refused:
        details = "; ".join(f"{r}: {reply}" for r, reply in refused.items())
        raise MailNotSent(f"'{message['Subject']}' was not accepted for {details}")


def _first_email_channel(settings: Settings, newsletter: str | None) -> str | None:
    """Without a newsletter, the first email channel configured (not the default outbox)."""
    if newsletter is not None:
        return None
    return next(
        (n for n, c in settings.channels.items() if isinstance(c, MaildirChannel | SmtpChannel)),
        None,
    )
