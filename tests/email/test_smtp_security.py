"""DKIM, STARTTLS, implicit TLS and AUTH against real aiosmtpd servers, via send_edition."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import dkim
import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from dkim.util import parse_tag_value
from sqlalchemy import select

from digest.config import Settings
from digest.delivery import send_edition, send_test
from digest.errors import ConfigError
from digest.models import RunReport
from digest.store import Store
from digest.store.tables import DeliveryRow, EditionRow, SuppressionRow

from .conftest import DkimKey, Pki, Sink, add_people, make_edition, make_pki

DKIM_ENV = {"TEST_DKIM_KEY": "${TEST_DKIM_KEY}"}
MUST_SIGN = {"from", "to", "subject", "date", "message-id"}
MUST_SIGN |= {"list-unsubscribe", "list-unsubscribe-post"}


def dkim_tags(data: bytes) -> dict[bytes, bytes]:
    """The tags of the DKIM-Signature, which must be the message's first header."""
    lines = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert lines[0].startswith(b"DKIM-Signature:"), "the signature must be the first header"
    value = lines[0].split(b":", 1)[1]
    for line in lines[1:]:
        if not line[:1].isspace():  # the next header: the signature's folding has ended
            break
        value += line
    return dict(parse_tag_value(value.replace(b" ", b"").replace(b"\t", b"")))


@pytest.mark.parametrize("escaped", [False, True], ids=["pem", "pem-with-backslash-n"])
def test_every_copy_is_dkim_signed_over_both_list_unsubscribe_headers(
    smtp_settings: Callable[..., Settings],
    sink: Sink,
    store: Store,
    now: datetime,
    dkim_key: DkimKey,
    monkeypatch: pytest.MonkeyPatch,
    escaped: bool,
) -> None:
    pem = dkim_key.private_pem
    # a .env loader may leave the key on one line with literal \n escapes
    monkeypatch.setenv("TEST_DKIM_KEY", pem.replace("\n", "\\n") if escaped else pem)
    settings = smtp_settings(
        dkim_selector="s1", dkim_domain="example.org", dkim_private_key="${TEST_DKIM_KEY}"
    )
    people = add_people(store, now, 6)
    edition = make_edition(store, now)
    report = RunReport()
    send_edition(settings, store, edition, report, now=now)
    send_test(settings, store, edition, ["staff@org.example", "editor@org.example"])
    assert report.sent == 6
    assert set(sink.counts()) == {*people, "staff@org.example", "editor@org.example"}
    dns = dkim_key.dnsfunc("s1._domainkey.example.org")
    for rcpt, data in sink.received:
        assert dkim.verify(data, dnsfunc=dns), f"signature of the copy to {rcpt} fails"
        tags = dkim_tags(data)
        assert (tags[b"d"], tags[b"s"]) == (b"example.org", b"s1")
        signed = {h.decode().lower() for h in tags[b"h"].split(b":")}
        assert signed >= MUST_SIGN, f"h= lacks {MUST_SIGN - signed}"
        assert data.count(b"\r\nList-Unsubscribe-Post: ") == 1
        # covered, not just listed: changing either List- header breaks the signature
        for original, forged in (
            (b"List-Unsubscribe: <https://", b"List-Unsubscribe: <http://"),
            (b"List-Unsubscribe=One-Click", b"List-Unsubscribe=Two-Click"),
        ):
            assert original in data
            assert not dkim.verify(data.replace(original, forged, 1), dnsfunc=dns)


def test_a_key_dkimpy_cannot_read_stops_the_send_before_anyone_is_mailed(
    smtp_settings: Callable[..., Settings],
    sink: Sink,
    store: Store,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_DKIM_KEY", "-----BEGIN PRIVATE KEY-----\nbm9wZQ==\n-----END")
    settings = smtp_settings(
        dkim_selector="s1", dkim_domain="example.org", dkim_private_key="${TEST_DKIM_KEY}"
    )
    add_people(store, now, 3)
    edition = make_edition(store, now)
    with pytest.raises(ConfigError, match=r"dkim_private_key \(\$\{TEST_DKIM_KEY\}\)"):
        send_edition(settings, store, edition, RunReport(), now=now)
    assert sink.received == []
    with store.session() as session:
        assert set(session.scalars(select(DeliveryRow.status))) == {"pending"}


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_is_verified_against_ca_file(
    smtp_settings: Callable[..., Settings],
    start_smtp: Callable[..., int],
    pki: Pki,
    tmp_path: Path,
    store: Store,
    now: datetime,
    security: str,
) -> None:
    server = Sink()
    if security == "starttls":
        port = start_smtp(server, tls_context=pki.server_context(), require_starttls=True)
    else:
        port = start_smtp(server, ssl_context=pki.server_context())
    people = add_people(store, now, 5)
    edition = make_edition(store, now)
    report = RunReport()
    # a relative ca_file is read from the config's folder (tmp_path here)
    ca_file = "pki/ca.pem" if security == "starttls" else str(pki.ca_file)
    assert (tmp_path / "pki" / "ca.pem") == pki.ca_file
    settings = smtp_settings(security=security, port=port, ca_file=ca_file)
    send_edition(settings, store, edition, report, now=now)
    assert server.counts() == dict.fromkeys(people, 1)
    assert server.over_tls and all(server.over_tls)
    assert (report.sent, report.deferred, report.failed) == (5, 0, 0)


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_an_untrusted_certificate_pauses_the_edition_and_nobody_is_sent(
    smtp_settings: Callable[..., Settings],
    start_smtp: Callable[..., int],
    pki: Pki,
    tmp_path: Path,
    store: Store,
    now: datetime,
    security: str,
) -> None:
    impostor = make_pki(tmp_path / "impostor", "someone else's CA")
    server = Sink()
    if security == "starttls":
        port = start_smtp(server, tls_context=impostor.server_context())
    else:
        port = start_smtp(server, ssl_context=impostor.server_context())
    people = add_people(store, now, 4)
    edition = make_edition(store, now)
    report = RunReport()
    settings = smtp_settings(security=security, port=port, ca_file=str(pki.ca_file))
    send_edition(settings, store, edition, report, now=now)
    assert server.received == []
    with store.session() as session:
        row = session.get(EditionRow, edition)
        assert row is not None and row.status == "paused"
        assert "TLS certificate not trusted" in (row.pause_reason or "")
        assert str(pki.ca_file) in (row.pause_reason or "")  # says which bundle it used
        rows = session.scalars(select(DeliveryRow).where(DeliveryRow.edition_id == edition))
        assert {r.email: (r.status, r.sent_at) for r in rows} == dict.fromkeys(
            people, ("pending", None)
        )
        assert session.scalars(select(SuppressionRow)).all() == []
    assert report.sent == 0 and report.deferred == 4
    assert any("certificate not trusted" in w for w in report.warnings)
    # a test copy says the same, without retrying
    outcome = send_test(settings, store, edition, "staff@org.example")
    assert "TLS certificate not trusted" in outcome["staff@org.example"]
    assert server.received == []


def test_a_missing_ca_file_is_a_config_error(
    smtp_settings: Callable[..., Settings], store: Store, now: datetime, tmp_path: Path
) -> None:
    add_people(store, now, 1)
    edition = make_edition(store, now)
    settings = smtp_settings(security="starttls", ca_file="no/such/ca.pem")
    with pytest.raises(ConfigError, match=r"ca_file .*no/such/ca\.pem: cannot load"):
        send_edition(settings, store, edition, RunReport(), now=now)


class Accounts:
    """An aiosmtpd authenticator knowing one login; it records every attempt."""

    def __init__(self, login: str, password: str) -> None:
        self.login, self.password = login.encode(), password.encode()
        self.attempts: list[tuple[str, bytes, bool]] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == self.login
            and data.password == self.password
        )
        self.attempts.append((mechanism, data.login if data else b"", ok))
        return AuthResult(success=ok, handled=False)  # a refusal gets the server's 535


PASSWORD = "s3cret-Pässword-xyz"


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_with_credentials_from_the_environment(
    smtp_settings: Callable[..., Settings],
    start_smtp: Callable[..., int],
    pki: Pki,
    store: Store,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
    mechanism: str,
) -> None:
    accounts = Accounts("digest@example.org", PASSWORD)
    server = Sink()
    port = start_smtp(
        server,
        tls_context=pki.server_context(),
        authenticator=accounts,
        auth_required=True,
        auth_exclude_mechanism=[m for m in ("PLAIN", "LOGIN") if m != mechanism],
    )
    monkeypatch.setenv("SMTP_USERNAME", "digest@example.org")
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    settings = smtp_settings(
        security="starttls",
        port=port,
        ca_file=str(pki.ca_file),
        username="${SMTP_USERNAME}",
        password="${SMTP_PASSWORD}",
    )
    people = add_people(store, now, 5)
    edition = make_edition(store, now)
    report = RunReport()
    send_edition(settings, store, edition, report, now=now)
    assert server.counts() == dict.fromkeys(people, 1)
    assert report.sent == 5
    assert accounts.attempts and set(accounts.attempts) == {
        (mechanism, b"digest@example.org", True)
    }


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_refused_credentials_pause_the_edition_and_never_show_the_password(
    smtp_settings: Callable[..., Settings],
    start_smtp: Callable[..., int],
    pki: Pki,
    store: Store,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    mechanism: str,
) -> None:
    accounts = Accounts("digest@example.org", "the-right-one")
    server = Sink()
    port = start_smtp(
        server,
        tls_context=pki.server_context(),
        authenticator=accounts,
        auth_required=True,
        auth_exclude_mechanism=[m for m in ("PLAIN", "LOGIN") if m != mechanism],
    )
    monkeypatch.setenv("SMTP_USERNAME", "digest@example.org")
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    settings = smtp_settings(
        security="starttls",
        port=port,
        ca_file=str(pki.ca_file),
        username="${SMTP_USERNAME}",
        password="${SMTP_PASSWORD}",
    )
    people = add_people(store, now, 4)
    edition = make_edition(store, now)
    report = RunReport()
    caplog.set_level(logging.DEBUG)
    send_edition(settings, store, edition, report, now=now)
    outcome = send_test(settings, store, edition, "staff@org.example")

    assert server.received == [] and accounts.attempts
    assert not any(ok for *_, ok in accounts.attempts)
    with store.session() as session:
        row = session.get(EditionRow, edition)
        assert row is not None and row.status == "paused"
        reason = row.pause_reason or ""
        assert f"AUTH {mechanism} refused: 535" in reason
        errors = [r.last_error or "" for r in session.scalars(select(DeliveryRow))]
        assert session.scalars(select(SuppressionRow)).all() == []
    assert statuses_of(store, edition) == dict.fromkeys(people, "pending")
    assert "535" in outcome["staff@org.example"]
    # the secret appears nowhere we write: the reason, rows, warnings, test outcome, logs
    ours = [reason, *errors, *report.warnings, *outcome.values()]
    ours += [r.getMessage() for r in caplog.records if r.name != "mail.log"]
    secret_forms = [PASSWORD, base64.b64encode(PASSWORD.encode()).decode()]
    secret_forms.append(base64.b64encode(f"\0digest@example.org\0{PASSWORD}".encode()).decode())
    for text in ours:
        assert not any(form in text for form in secret_forms), text
    # the server's own debug log (the test harness) shows commands, never the plain password
    assert not any(PASSWORD in r.getMessage() for r in caplog.records)


def statuses_of(store: Store, edition: int) -> dict[str, str]:
    with store.session() as session:
        rows = session.execute(
            select(DeliveryRow.email, DeliveryRow.status).where(DeliveryRow.edition_id == edition)
        ).all()
    return {email: status for email, status in rows}


def test_credentials_are_not_sent_when_the_server_offers_auth_only_over_tls(
    smtp_settings: Callable[..., Settings],
    start_smtp: Callable[..., int],
    store: Store,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    accounts = Accounts("digest@example.org", PASSWORD)
    server = Sink()
    port = start_smtp(server, authenticator=accounts, auth_required=True)  # AUTH needs TLS
    monkeypatch.setenv("SMTP_USERNAME", "digest@example.org")
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    settings = smtp_settings(
        security="none", port=port, username="${SMTP_USERNAME}", password="${SMTP_PASSWORD}"
    )
    add_people(store, now, 2)
    edition = make_edition(store, now)
    send_edition(settings, store, edition, RunReport(), now=now)
    assert accounts.attempts == [] and server.received == []
    with store.session() as session:
        row = session.get(EditionRow, edition)
        assert row is not None and row.status == "paused"
        assert "offers no AUTH without TLS (use security: starttls or tls)" in (
            row.pause_reason or ""
        )
