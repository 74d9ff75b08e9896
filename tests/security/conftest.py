"""The web fixtures (an app over a fresh store, a settable clock, a staff password), and a
real HTTP server on 127.0.0.1 serving canned (hostile) bodies."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from tests.web.conftest import (  # noqa: F401  (fixtures are found by name)
    artifacts_dir,
    client,
    clock,
    make_client,
    web_settings,
)

from digest.store import Store
from digest.store.tables import EditionRow


class HostileServer:
    """Routes: path → (headers, body); the body is sent in 16 KB writes."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[dict[str, str], bytes]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                headers, body = server.routes.get(self.path, ({}, b""))
                self.send_response(200 if self.path in server.routes else 404)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for start in range(0, len(body), 16384):
                    self.wfile.write(body[start : start + 16384])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hostile_server() -> Iterator[HostileServer]:
    server = HostileServer()
    yield server
    server.close()


FOOTER_HTML = (
    "<p>Workers won big this week.</p><p>1 Test Street, Testville</p>"
    '<p><a href="%%DIGEST_UNSUBSCRIBE_URL%%">Unsubscribe</a></p>'
)
FOOTER_TEXT = (
    "Workers won big.\n\n1 Test Street, Testville\nUnsubscribe: %%DIGEST_UNSUBSCRIBE_URL%%\n"
)


def make_edition(store: Store, now: datetime, newsletter: str = "weekly") -> int:
    """An approved edition row with a minimal body (bare markers, as old rows have)."""
    with store.session() as session:
        row = EditionRow(
            newsletter=newsletter,
            period_key=now.isoformat(),
            period_start=now,
            period_end=now,
            title="Weekly",
            subject="Weekly",
            status="approved",
            sections=[],
            html=FOOTER_HTML,
            text=FOOTER_TEXT,
            web_html="",
            created_at=now,
        )
        session.add(row)
        session.flush()
        return row.id
