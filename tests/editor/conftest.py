"""An organisation with two local feeds (a list and a grouped section) and helpers to
run the CLI against it at chosen times (never the wall clock)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from digest.cli import app

THURSDAY = "2026-11-19T12:00-05:00"
FRIDAY_SEND = "2026-11-20T16:00-05:00"
# Items of the period ending Friday 2026-11-20 16:00 New York.
BASE = datetime.fromisoformat("2026-11-18T09:00-05:00")


def write_feed(path: Path, name: str, titles: list[str], start: int = 0) -> None:
    entries = []
    for n, title in enumerate(titles, start):
        when = (BASE + timedelta(hours=n)).strftime("%a, %d %b %Y %H:%M:%S %z")
        entries.append(
            f"<item><title>{title}</title><link>https://{name}.example.org/{n}</link>"
            f"<guid>{name}-{n}</guid><pubDate>{when}</pubDate>"
            f"<description>&lt;p&gt;About {title}.&lt;/p&gt;</description></item>"
        )
    path.write_text(
        "<?xml version='1.0'?><rss version='2.0'><channel><title>"
        f"{name}</title>{''.join(entries)}</channel></rss>",
        encoding="utf-8",
    )


@pytest.fixture
def org(tmp_path: Path, raw_config: dict[str, Any]) -> dict[str, Any]:
    news, ohio, texas = tmp_path / "news.xml", tmp_path / "ohio.xml", tmp_path / "texas.xml"
    write_feed(news, "news", ["Alpha strike ends", "Bravo contract", "Charlie vote"])
    write_feed(ohio, "ohio", ["Ohio canvass"])
    write_feed(texas, "texas", ["Texas rally"])
    raw = dict(raw_config)
    raw["sources"] = {
        "news": {"type": "feed", "path": str(news), "origin": {"name": "Labor News"}},
        "ohio": {
            "type": "feed",
            "path": str(ohio),
            "origin": {"name": "Ohio AFL-CIO", "kind": "state_federation", "state": "OH"},
        },
        "texas": {
            "type": "feed",
            "path": str(texas),
            "origin": {"name": "Texas AFL-CIO", "kind": "state_federation", "state": "TX"},
        },
    }
    raw["formats"] = {
        "weekly_list": {
            "strategy": "list",
            "title": "Weekly List",
            "template": "weekly_list",
            "select": {"sources": ["news"]},
        },
        "in_the_states": {
            "strategy": "grouped",
            "group_by": "origin",
            "title": "In the States",
            "template": "in_the_states",
            "select": {"kinds": ["state_federation"]},
        },
    }
    raw["newsletters"]["weekly"]["formats"] = ["weekly_list", "in_the_states"]
    raw["newsletters"]["weekly"]["subject"] = "{headline} ({date})"
    raw["network"] = {"allow_private": True}
    raw["feeds"] = {"news": news, "ohio": ohio}
    return raw


Invoke = Callable[..., Result]


@pytest.fixture
def cli(org: dict[str, Any], tmp_path: Path) -> Invoke:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump({k: v for k, v in org.items() if k != "feeds"}), encoding="utf-8"
    )

    def invoke(*args: str, ok: bool = True) -> Result:
        result = CliRunner().invoke(app, ["--config", str(config), *args])
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def subscribe(tmp_path: Path, invoke: Invoke, *emails: str) -> None:
    csv = tmp_path / "people.csv"
    csv.write_text("email\n" + "\n".join(emails) + "\n", encoding="utf-8")
    invoke("subscribers", "import", str(csv), "--list", "weekly")


@pytest.fixture
def page_server() -> Any:
    """A local web server with one story page (Open Graph tags) and a 404."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    page = (
        b"<html><head><title>ignored</title>"
        b'<meta property="og:title" content="Nurses win staffing ratios">'
        b'<meta property="og:description" content="A first contract after two years.">'
        b'<meta property="og:site_name" content="Union Times">'
        b"</head><body>story</body></html>"
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == "/story"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            body = page if found else b"not here"
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
