"""Read bounces (RFC 3464 DSNs) and complaints (RFC 5965 ARF) and update statuses.

A permanent 5.1.x failure suppresses the address as 'bounced'; a complaint suppresses
it as 'complained' and ends every subscription at once. Other permanent failures and
delays are counted but change nothing: one odd reply is no reason to drop a member.

Anyone can drop a hand-made DSN or complaint into the bounce mailbox, so a report is
acted on only when it proves a delivery digest made (``proven_delivery``):

- with VERP (``return_path: bounces+{token}@…``) each copy's envelope sender names its
  (edition, subscriber) with a signed token, and the bounce comes back to that address.
  A token in the bounce's envelope recipient (Delivered-To, X-Original-To, Envelope-To,
  To) or a DSN Original-Recipient, whose signature holds and which names a delivery in
  the ledger, attributes the report to that delivery's address, whatever its
  Final-Recipient says: a forwarded or rewritten mailbox still bounces the subscriber
  we mailed;
- otherwise the returned original message (``message/rfc822`` or
  ``text/rfc822-headers``, which DSNs and ARF feedback loops carry) must have a
  Message-ID the ledger recorded for a delivery *and* that copy's signed
  List-Unsubscribe token naming the same subscriber (a Message-ID alone can be guessed
  by anyone who received their own copy).

A report without such proof, or with a token whose signature fails, changes nothing and
is listed under ignored, with the reason.
"""

from __future__ import annotations

import email
import email.policy
import imaplib
import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.utils import getaddresses
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.delivery.tokens import VERP_TOKEN, BadToken, Keys, find_verp_token, read_token
from digest.errors import DigestError
from digest.store.tables import DeliveryRow, SubscriberRow
from digest.subscribers import InvalidAddress, normalize_email, suppress, unsubscribe

STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
# where the bounce's own envelope recipient (our VERP return path) shows, most exact first
ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")


@dataclass(frozen=True)
class Finding:
    kind: str  # bounce | complaint | soft | other
    email: str
    detail: str


@dataclass
class BounceReport:
    messages: int = 0
    bounced: list[str] = field(default_factory=list)
    complained: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # why a message changed nothing


def _address(value: str | None) -> str | None:
    """'rfc822; user@example.org' → normalized address, or None."""
    if not value:
        return None
    raw = value.split(";", 1)[-1].strip().strip("<>")
    try:
        return normalize_email(raw)
    except InvalidAddress:
        return None


def _report_parts(message: Message, kind: str) -> list[Message]:
    return [part for part in message.walk() if part.get_content_type() == kind]


def parse_report(message: Message, attribute_to: str | None = None) -> list[Finding]:
    """What a DSN or ARF report says about which addresses.

    ``attribute_to`` (the address a verified VERP token names) replaces each DSN
    recipient block's own address.
    """
    findings: list[Finding] = []
    for block in _dsn_blocks(message):
        findings.extend(_dsn_finding(block, attribute_to))
    for part in _report_parts(message, "message/feedback-report"):
        findings.extend(_arf_finding(message, part, attribute_to))
    return findings


def _dsn_blocks(message: Message) -> list[Message]:
    """The per-recipient field groups of every message/delivery-status part."""
    blocks: list[Message] = []
    for part in _report_parts(message, "message/delivery-status"):
        payload = part.get_payload()
        if isinstance(payload, list):
            blocks += [b for b in payload[1:] if isinstance(b, Message)]
    return blocks


def _dsn_finding(block: Message, attribute_to: str | None = None) -> list[Finding]:
    named = _address(block.get("Final-Recipient")) or _address(block.get("Original-Recipient"))
    address = attribute_to or named
    if address is None:
        return []
    action = (block.get("Action") or "").strip().lower()
    status = STATUS.search(block.get("Status") or "")
    code = status.group(0) if status else ""
    detail = f"{action} {code} {block.get('Diagnostic-Code', '')}".strip()
    if attribute_to and named != attribute_to:
        detail += f" (VERP; Final-Recipient {named or block.get('Final-Recipient', '?')})"
    if action == "failed" and code.startswith("5.1."):
        return [Finding("bounce", address, detail)]
    if action in ("delayed", "relayed", "delivered", "expanded") or code.startswith("4."):
        return [Finding("soft", address, detail)]
    return [Finding("other", address, detail)]


def _arf_finding(message: Message, part: Message, attribute_to: str | None) -> list[Finding]:
    blocks = part.get_payload()
    first = blocks[0] if isinstance(blocks, list) and blocks else part
    fields: Message = first if isinstance(first, Message) else part
    address = _address(fields.get("Original-Rcpt-To"))
    if address is None:  # fall back to the returned original message's To
        for original in _report_parts(message, "message/rfc822") + _report_parts(
            message, "text/rfc822-headers"
        ):
            inner = original.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                address = _address(inner[0].get("To"))
            elif isinstance(inner, str):
                address = _address(email.message_from_string(inner).get("To"))
            if address:
                break
    if attribute_to is not None:
        address = attribute_to
    if address is None:
        return []
    kind = (fields.get("Feedback-Type") or "abuse").strip()
    return [Finding("complaint", address, f"feedback-type {kind}")]


def _envelope_candidates(message: Message) -> list[str]:
    """Addresses that may be the bounce's envelope recipient, i.e. our return path."""
    values: list[str] = []
    for header in ENVELOPE_HEADERS:
        values += [str(v) for v in message.get_all(header) or []]
    values += [str(b.get("Original-Recipient", "")) for b in _dsn_blocks(message)]
    addresses: list[str] = []
    for value in values:
        value = value.split(";", 1)[-1] if ";" in value else value  # 'rfc822; addr'
        addresses += [addr for _, addr in getaddresses([value]) if addr]
    return addresses


@dataclass(frozen=True)
class VerpMatch:
    address: str | None  # the subscriber a valid token names
    refusal: str | None = None  # why the bounce must not be trusted at all


def verp_recipient(session: Session, message: Message, secret: Keys) -> VerpMatch:
    """The address a signed VERP token in the bounce's envelope recipient names."""
    forged: list[str] = []
    for candidate in _envelope_candidates(message):
        found = find_verp_token(secret, candidate)
        if found is None:
            if VERP_TOKEN.search(candidate.rsplit("@", 1)[0]):
                forged.append(candidate)
            continue
        delivery = session.get(DeliveryRow, found)
        if delivery is None:
            return VerpMatch(None, f"{candidate}: VERP token names no delivery digest made")
        return VerpMatch(delivery.email)
    if forged:
        return VerpMatch(None, f"{forged[0]}: VERP token signature invalid; bounce not trusted")
    return VerpMatch(None)


def _returned_headers(message: Message) -> list[Message]:
    """The headers of the original message a report returns, if it returns them."""
    found: list[Message] = []
    for part in _report_parts(message, "message/rfc822") + _report_parts(
        message, "text/rfc822-headers"
    ):
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            found.append(inner[0])
        elif isinstance(inner, str):
            found.append(email.message_from_string(inner))
    return found


UNSUBSCRIBE_TOKEN = re.compile(r"/u/([A-Za-z0-9_.\-]+)")


def _copy_delivery(session: Session, headers: Message, secret: Keys) -> DeliveryRow | None:
    """The delivery whose copy these headers are: its recorded Message-ID and its signed
    unsubscribe token must both name it."""
    message_id = str(headers.get("Message-ID", "")).strip()
    if not message_id:
        return None
    delivery = session.scalars(
        select(DeliveryRow).where(DeliveryRow.message_id == message_id)
    ).first()
    if delivery is None:
        return None
    for token in UNSUBSCRIBE_TOKEN.findall(str(headers.get("List-Unsubscribe", ""))):
        try:
            payload = read_token(secret, "unsubscribe", token)
        except BadToken:
            continue
        if payload.get("s") == delivery.subscriber_id:
            return delivery
    return None


def proven_delivery(session: Session, message: Message, secret: Keys) -> VerpMatch:
    """The address of the delivery this report proves it is about, or why it proves none."""
    verp = verp_recipient(session, message, secret)
    if verp.address is not None or verp.refusal is not None:
        return verp
    for headers in _returned_headers(message):
        # the receiving MTA wrote our VERP envelope sender into the copy's Return-Path
        found = find_verp_token(secret, str(headers.get("Return-Path", "")).strip(" <>"))
        delivery = session.get(DeliveryRow, found) if found else None
        if delivery is None:
            delivery = _copy_delivery(session, headers, secret)
        if delivery is not None:
            return VerpMatch(delivery.email)
    return VerpMatch(
        None,
        f"'{message.get('Subject', '')}' from {message.get('From', '?')}: names no delivery "
        "digest made (no valid VERP token, no returned copy with its signed links); "
        "not acted on",
    )


def apply(session: Session, findings: list[Finding], now: datetime, report: BounceReport) -> None:
    for finding in findings:
        if finding.kind == "bounce":
            suppress(session, finding.email, "bounced", now, detail=finding.detail)
            if finding.email not in report.bounced:
                report.bounced.append(finding.email)
        elif finding.kind == "complaint":
            suppress(session, finding.email, "complained", now, detail=finding.detail)
            row = session.scalars(
                select(SubscriberRow).where(SubscriberRow.email == finding.email)
            ).first()
            if row is not None:
                unsubscribe(session, row.id, None, now)
            report.complained.append(finding.email)
        else:
            report.ignored.append(f"{finding.email}: {finding.detail}")


def process_message(
    session: Session,
    raw: bytes,
    now: datetime,
    report: BounceReport,
    verp_secret: Keys | None = None,
) -> None:
    """Apply one report; with ``verp_secret`` a signed VERP token decides whose DSN it is."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    report.messages += 1
    if not (_dsn_blocks(message) or _report_parts(message, "message/feedback-report")):
        report.ignored.append(f"'{message.get('Subject', '')}': not a DSN or ARF report")
        return
    if verp_secret is None:
        report.ignored.append("no signing key to check reports with; not acted on")
        return
    proof = proven_delivery(session, message, verp_secret)
    if proof.address is None:
        report.ignored.append(proof.refusal or "report not trusted")
        return
    findings = parse_report(message, attribute_to=proof.address)
    apply(session, findings, now, report)


def read_maildir(
    session: Session, path: Path, now: datetime, *, verp_secret: Keys | None = None
) -> BounceReport:
    """Process new messages in a Maildir and move them to cur/ marked seen."""
    if not (path / "new").is_dir():
        raise DigestError(f"{path}: not a Maildir (no new/ folder)")
    box = mailbox.Maildir(path, create=False)
    report = BounceReport()
    for key in list(box.keys()):
        msg = box.get_message(key)
        if msg.get_subdir() != "new":
            continue
        process_message(session, msg.as_bytes(), now, report, verp_secret)
        msg.set_subdir("cur")
        msg.add_flag("S")
        box[key] = msg
    return report


def read_imap(
    session: Session,
    host: str,
    username: str,
    password: str,
    now: datetime,
    *,
    port: int = 993,
    folder: str = "INBOX",
    verp_secret: Keys | None = None,
) -> BounceReport:
    """Process unseen messages in an IMAP folder (TLS) and mark them seen."""
    report = BounceReport()
    try:
        with imaplib.IMAP4_SSL(host, port) as imap:
            imap.login(username, password)
            imap.select(folder)
            for uid, raw in _unseen(imap):
                process_message(session, raw, now, report, verp_secret)
                imap.uid("STORE", uid, "+FLAGS", "(\\Seen)")
    except (OSError, imaplib.IMAP4.error) as exc:
        raise DigestError(f"IMAP {host}:{port}: {exc}") from None
    return report


def _unseen(imap: imaplib.IMAP4) -> Iterator[tuple[str, bytes]]:
    status, data = imap.uid("SEARCH", "UNSEEN")
    if status != "OK" or not data or not data[0]:
        return
    for uid in data[0].split():
        status, parts = imap.uid("FETCH", uid, "(BODY.PEEK[])")
        for part in parts or []:
            if isinstance(part, tuple):
                yield uid.decode(), part[1]
