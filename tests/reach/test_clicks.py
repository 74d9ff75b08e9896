"""Counting clicks: people apart from machines, under concurrency, with the store busy."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from digest.reach.clicks import ClickRecorder, machine_reason
from digest.store import open_store
from digest.store.tables import ClickRow
from digest.web import create_app

from .conftest import BROWSER, Sent, link_paths


def counts(sent: Sent) -> dict[bool, int]:
    with sent.store.session() as session:
        rows = session.execute(
            select(ClickRow.machine, func.count()).group_by(ClickRow.machine)
        ).all()
    return {machine: n for machine, n in rows}


def click(client: TestClient, path: str, agent: str = BROWSER, ip: str = "") -> int:
    headers = {"user-agent": agent}
    return client.get(path, headers=headers).status_code


def test_people_and_machines_are_counted_apart(send_week: Callable[..., Sent]) -> None:
    # a window no slow machine can miss; the person and the scanner are different clients
    sent = send_week(people=1, burst_seconds=30)
    app = create_app(sent.settings, sent.store)
    paths = link_paths(sent)
    with TestClient(app, follow_redirects=False) as client:
        assert click(client, paths[0]) == 302  # a person
        assert client.head(paths[0], headers={"user-agent": BROWSER}).status_code == 302
        assert click(client, paths[1], agent="Mimecast-URL-Protect/1.0") == 302
        assert (
            client.get(paths[1], headers={"user-agent": BROWSER, "sec-purpose": "prefetch"})
        ).status_code == 302
    # leaving the client's context shuts the app down, which writes what is queued
    with TestClient(app, follow_redirects=False, headers={"x-test": "scan"}) as scanner:
        for path in paths[:3]:  # three links of one edition at once: a scanner's burst
            assert click(scanner, path, agent="Mozilla/5.0 (Windows NT 10.0)") == 302
    with sent.store.session() as session:
        reasons = sorted(r or "person" for r in session.scalars(select(ClickRow.reason)))
    assert reasons == ["burst", "burst", "burst", "head", "person", "prefetch", "scanner"]


def test_machine_reason_reads_the_request_alone() -> None:
    assert machine_reason("HEAD", {"user-agent": BROWSER}) == "head"
    assert machine_reason("GET", {}) == "no-agent"
    assert machine_reason("GET", {"user-agent": "Barracuda Sentinel (EE)"}) == "scanner"
    assert machine_reason("GET", {"user-agent": BROWSER, "purpose": "prefetch"}) == "prefetch"
    assert machine_reason("GET", {"user-agent": BROWSER}) is None


def _concurrent_clicks(sent: Sent, threads: int = 8, each: int = 25) -> int:
    app = create_app(sent.settings, sent.store)
    paths = link_paths(sent)
    failures: list[int] = []
    with TestClient(app, follow_redirects=False) as client:

        def reader(n: int) -> None:
            for i in range(each):
                # a distinct reader per request (no burst): the address differs
                status = client.get(
                    paths[i % len(paths)], headers={"user-agent": f"{BROWSER} r{n}-{i}"}
                ).status_code
                if status != 302:
                    failures.append(status)

        workers = [threading.Thread(target=reader, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    assert failures == []
    return threads * each


def test_concurrent_clicks_are_all_counted_on_sqlite(send_week: Callable[..., Sent]) -> None:
    sent = send_week(people=1, burst_seconds=0.2)
    expected = _concurrent_clicks(sent)
    assert counts(sent) == {False: expected}


@pytest.mark.postgres
def test_concurrent_clicks_are_all_counted_on_postgresql(
    send_week: Callable[..., Sent], postgres_schema_url: str
) -> None:
    sent = send_week(people=1, burst_seconds=0.2)
    pg_store = open_store(postgres_schema_url)
    with pg_store.engine.begin() as connection:  # the edition the tokens name must exist
        connection.execute(
            text(
                "INSERT INTO editions (id, newsletter, period_key, period_start, period_end, "
                "title, subject, status, sections, html, text, web_html, created_at) "
                "VALUES (:id, 'weekly', 'k', now(), now(), 't', 's', 'sent', '[]', '', '', '', "
                "now())"
            ),
            {"id": sent.edition_id},
        )
    on_postgres = Sent(sent.settings, pg_store, sent.edition_id, sent.config_path, sent.messages)
    expected = _concurrent_clicks(on_postgres)
    assert counts(on_postgres) == {False: expected}
    pg_store.dispose()


def test_a_busy_store_neither_delays_the_reader_nor_loses_the_click(
    send_week: Callable[..., Sent],
) -> None:
    sent = send_week(people=1, burst_seconds=0.1)
    database = sent.store.engine.url.database
    assert database is not None
    app = create_app(sent.settings, sent.store)
    paths = link_paths(sent)
    blocker = sqlite3.connect(database, timeout=0)
    blocker.execute("PRAGMA busy_timeout=0")
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        with TestClient(app, follow_redirects=False) as client:
            started = time.monotonic()
            assert click(client, paths[0]) == 302
            answered = time.monotonic() - started
            # a redirect that waited on the lock would take SQLite's 30 s busy timeout
            assert answered < 10.0, "the redirect waited for the store"
            recorder: ClickRecorder = app.state.clicks
            time.sleep(0.5)
            assert recorder.pending() == 1  # kept, not dropped
            blocker.rollback()  # the lock is released while the app still runs
            deadline = time.monotonic() + 10
            while recorder.pending() and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        blocker.close()
    assert counts(sent) == {False: 1}
