"""One broken source is a warning naming it; every other source still lands."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from digest.models import RunReport
from digest.sources import collect
from digest.store.tables import SourceState

FIXTURES = Path(__file__).parent / "fixtures"
ORIGIN = {"name": "Somebody"}


def rss(title: str, link: str, extra: bytes = b"") -> bytes:
    return (
        b"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>t</title>"
        b"<item><title>" + title.encode() + extra + b"</title><link>" + link.encode() + b"</link>"
        b"<pubDate>Wed, 18 Nov 2026 10:00:00 GMT</pubDate></item></channel></rss>"
    )


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
]>
<rss version="2.0"><channel><title>&e;</title><item><title>&e;</title></item></channel></rss>"""


def test_each_broken_source_is_a_warning_and_the_good_one_lands(server, local_settings, store, now):
    good = rss("Good news", "https://good.example.org/1")
    routes: dict[str, tuple[bytes, dict[str, object]]] = {
        "/good": (good, {}),
        "/slow": (good, {"delay": 6.0}),
        "/malformed": (b"<?xml version='1.0'?><rss version='2.0'><channel><item><titl", {}),
        "/html": (b"<html><body><p>Moved!</p></body></html>", {"content_type": "text/html"}),
        "/bomb": (BOMB, {}),
        "/huge": (b"", {"stream_bytes": 20_000_000}),
        "/bad-json": (
            b'{"version": "https://jsonfeed.org/version/1.1", "items": [',
            {"content_type": "application/feed+json"},
        ),
        "/r1": (b"", {"status": 302, "headers": {"Location": "/r2"}}),
        "/r2": (b"", {"status": 302, "headers": {"Location": "/r3"}}),
        "/r3": (b"", {"status": 302, "headers": {"Location": "/r4"}}),
        "/r4": (b"", {"status": 302, "headers": {"Location": "/r5"}}),
        "/r5": (good, {}),
        # declared utf-8 but not: read anyway, never a crash
        "/latin1": (rss("Caf", "https://good.example.org/2", b"\xe9 \xff"), {}),
    }
    for path, (body, options) in routes.items():
        server.add(path, body, **options)
    broken = ["slow", "missing", "malformed", "html", "bomb", "huge", "bad-json", "r1"]
    sources = {
        name: {"type": "feed", "url": server.url(f"/{name}"), "origin": ORIGIN}
        for name in [*broken, "good", "latin1"]
    }
    settings = local_settings(sources, max_bytes=100_000, max_redirects=3, timeout=2.0)
    report = RunReport()
    collect(settings, store, report, now=now)

    assert report.sources_failed == len(broken)
    assert report.sources_read == 2 and report.items_new == 2
    failures = {w.split("'")[1]: w for w in report.warnings if "failed" in w}
    assert set(failures) == set(broken)
    assert "timed out" in failures["slow"]
    assert "HTTP 404" in failures["missing"]
    assert "SourceError: not a readable feed" in failures["malformed"]
    assert "not a readable feed" in failures["html"] and "text/html" in failures["html"]
    assert "<!ENTITY>" in failures["bomb"]
    assert "larger than network.max_bytes (100000 bytes)" in failures["huge"]
    assert server.streamed < 5_000_000  # the client hung up long before 20 MB
    assert "not valid JSON" in failures["bad-json"]
    assert "too many redirects (more than 3)" in failures["r1"]
    assert server.hits_for("/r5") == []
    # the wrong declared encoding is named, not reported as a broken document
    assert any("source 'latin1'" in w and "declared as utf-8" in w for w in report.warnings)

    with store.session() as session:
        state = session.get(SourceState, "missing")
        assert state is not None and state.status == "error" and "404" in (state.error or "")
        assert session.get(SourceState, "good").status == "ok"  # type: ignore[union-attr]


PUBLIC_FEED = rss("Public", "https://public.example.org/1")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/feed",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/feed",
        "http://[::ffff:127.0.0.1]/feed",
        "http://0x7f000001/feed",
        "http://2130706433/feed",
        "http://10.0.0.8/feed",
        "http://172.20.1.1/feed",
        "http://192.168.0.10/feed",
        "http://[fc00::5]/feed",
        "http://localhost/feed",
        "http://93.184.216.34/to-metadata",  # public, but redirects to the metadata address
    ],
)
def test_private_targets_are_refused_by_default_in_a_collect(url, make_settings, store, now):
    requested: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        if request.url.path == "/to-metadata":
            return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/"})
        return httpx.Response(200, content=PUBLIC_FEED)

    settings = make_settings(
        sources={
            "public": {"type": "feed", "url": "http://93.184.216.34/feed", "origin": ORIGIN},
            "sneaky": {"type": "feed", "url": url, "origin": ORIGIN},
        }
    )
    report = RunReport()
    collect(settings, store, report, transport=httpx.MockTransport(handler), now=now)

    assert (report.sources_read, report.sources_failed, report.items_new) == (1, 1, 1)
    [warning] = [w for w in report.warnings if "sneaky" in w]
    assert "refused" in warning and "allow_private" in warning
    assert all("93.184.216.34" in r for r in requested)  # nothing private was ever requested


def test_only_reads_the_named_sources(server, local_settings, store, now):
    server.add("/a", rss("A", "https://a.example.org/1"))
    server.add("/b", rss("B", "https://b.example.org/1"))
    settings = local_settings(
        {
            "a": {"type": "feed", "url": server.url("/a"), "origin": ORIGIN},
            "b": {"type": "feed", "url": server.url("/b"), "origin": ORIGIN},
        }
    )
    report = RunReport()
    collect(settings, store, report, now=now, only=["b", "nope"])
    assert (report.sources_read, report.items_new) == (1, 1)
    assert server.hits_for("/a") == []
    assert report.warnings == ["source 'nope': not in config.yaml; skipped"]
