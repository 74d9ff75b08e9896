"""The guarded client: address checks after resolution, redirects, byte cap, 304, charsets."""

from __future__ import annotations

import asyncio
from typing import Any

import httpcore
import httpx
import pytest

from digest.config import NetworkConfig
from digest.http import BlockedAddressError, FetchError, FetchResult, fetch, make_client

PUBLIC = "93.184.216.34"


class Recorder:
    """A MockTransport handler that records every request that got past the guard."""

    def __init__(self, routes: dict[str, httpx.Response] | None = None) -> None:
        self.routes = routes or {}
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return self.routes.get(str(request.url), httpx.Response(200, content=b"ok"))


def run_fetch(url: str, handler: Recorder, *, resolver: Any = None, **options: Any) -> FetchResult:
    network = NetworkConfig(**options.pop("network", {}))

    async def go() -> FetchResult:
        kwargs = {"resolver": resolver} if resolver else {}
        async with make_client(network, httpx.MockTransport(handler), **kwargs) as client:
            return await fetch(client, url, max_bytes=options.pop("max_bytes", 10_000), **options)

    return asyncio.run(go())


def resolves_to(*addresses: str) -> Any:
    async def resolver(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolver


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://0x7f000001/",
        "http://2130706433/",
        "http://0.0.0.0/",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://172.31.255.255/",
        "http://192.168.1.1/",
        "http://100.100.100.200/",  # carrier-grade NAT range, used by a cloud metadata service
        "http://224.0.0.1/",
        "http://[fc00::1]/",
        "http://[fd00:ec2::254]/",
        "http://[fe80::1]/",
        "http://[ff02::1]/",
        "file:///etc/passwd",
        "ftp://93.184.216.34/feed.xml",
        "http://0177.0.0.1/",  # invalid for httpx; must still be a clean error
    ],
)
def test_private_and_non_http_targets_are_refused_before_any_request(url: str) -> None:
    handler = Recorder()
    with pytest.raises(FetchError) as caught:
        run_fetch(url, handler, resolver=resolves_to(PUBLIC))
    assert handler.seen == []
    assert "refused" in str(caught.value) or "could not fetch" in str(caught.value)


def test_hostnames_are_checked_after_resolution() -> None:
    handler = Recorder()
    with pytest.raises(BlockedAddressError, match=r"10\.0\.0\.7"):
        run_fetch("http://intranet.example.org/", handler, resolver=resolves_to("10.0.0.7"))
    # one private answer among public ones is enough to refuse
    with pytest.raises(BlockedAddressError):
        run_fetch("http://x.example.org/", handler, resolver=resolves_to(PUBLIC, "127.0.0.1"))
    assert handler.seen == []
    result = run_fetch("http://news.example.org/", handler, resolver=resolves_to(PUBLIC))
    assert result.ok and len(handler.seen) == 1


def test_localhost_is_refused_with_the_system_resolver() -> None:
    with pytest.raises(BlockedAddressError):
        run_fetch("http://localhost:9/", Recorder())


def test_allow_private_is_an_explicit_opt_in() -> None:
    handler = Recorder()
    result = run_fetch("http://127.0.0.1/", handler, network={"allow_private": True})
    assert result.content == b"ok"


def test_redirects_are_followed_and_each_target_rechecked() -> None:
    start = f"http://{PUBLIC}/old"
    handler = Recorder(
        {
            start: httpx.Response(301, headers={"Location": "/new"}),
            f"http://{PUBLIC}/new": httpx.Response(200, content=b"moved"),
            f"http://{PUBLIC}/sneaky": httpx.Response(
                302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
            ),
        }
    )
    result = run_fetch(start, handler)
    assert (result.url, result.content) == (f"http://{PUBLIC}/new", b"moved")

    with pytest.raises(BlockedAddressError, match=r"169\.254\.169\.254"):
        run_fetch(f"http://{PUBLIC}/sneaky", handler)
    assert all(r.url.host != "169.254.169.254" for r in handler.seen)


def test_too_many_redirects() -> None:
    loop = {
        f"http://{PUBLIC}/{n}": httpx.Response(302, headers={"Location": f"/{n + 1}"})
        for n in range(10)
    }
    handler = Recorder(loop)
    with pytest.raises(FetchError, match=r"too many redirects \(more than 3\)"):
        run_fetch(f"http://{PUBLIC}/0", handler)
    assert len(handler.seen) == 4  # the first request and three redirects, no more


def test_body_over_the_cap_is_cut_off_and_reported() -> None:
    produced = []

    async def endless() -> Any:
        for _ in range(10_000):  # 10 MB if fully read
            produced.append(1024)
            yield b"x" * 1024

    handler = Recorder({f"http://{PUBLIC}/big": httpx.Response(200, content=endless())})
    result = run_fetch(f"http://{PUBLIC}/big", handler, max_bytes=50_000)
    assert result.truncated and len(result.content) == 50_000
    assert sum(produced) < 100_000  # reading stopped soon after the cap

    declared = Recorder(
        {f"http://{PUBLIC}/declared": httpx.Response(200, headers={"Content-Length": "9999999"})}
    )
    result = run_fetch(f"http://{PUBLIC}/declared", declared, max_bytes=50_000)
    assert result.truncated and result.content == b""


def test_conditional_get_sends_validators_and_reports_304() -> None:
    handler = Recorder({f"http://{PUBLIC}/feed": httpx.Response(304)})
    result = run_fetch(
        f"http://{PUBLIC}/feed",
        handler,
        etag='"abc"',
        last_modified="Wed, 18 Nov 2026 10:00:00 GMT",
    )
    assert result.not_modified and result.content == b""
    sent = handler.seen[0].headers
    assert sent["If-None-Match"] == '"abc"'
    assert sent["If-Modified-Since"] == "Wed, 18 Nov 2026 10:00:00 GMT"


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("text/html; charset=utf-8", b"caf\xe9 \xff", "caf\ufffd \ufffd"),
        ("text/html; charset=no-such-charset", "café".encode(), "café"),
        ("text/html; charset=iso-8859-1", b"caf\xe9", "café"),
        ("text/html", b"\xc3\x28 ok", "\ufffd( ok"),
    ],
)
def test_text_never_fails_on_bad_bytes_or_charsets(content_type, body, expected) -> None:
    result = FetchResult(200, "http://x/", httpx.Headers({"content-type": content_type}), body)
    assert result.text() == expected


def test_a_slow_server_times_out() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    async def go() -> None:
        network = NetworkConfig(timeout=0.2)
        async with make_client(network, httpx.MockTransport(slow)) as client:
            await fetch(client, f"http://{PUBLIC}/", max_bytes=100)

    with pytest.raises(FetchError, match="timed out"):
        asyncio.run(go())


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Stands in for the network: records where each connection is dialled (and the TLS
    name it is verified for) and answers every request with a canned 200."""

    def __init__(self) -> None:
        self.dialled: list[tuple[str, int]] = []
        self.tls_names: list[str | None] = []

    async def connect_tcp(self, host: str, port: int, **options: Any) -> Any:
        self.dialled.append((host, port))
        backend = self

        class Stream(httpcore.AsyncMockStream):
            async def start_tls(self, ssl_context: Any, server_hostname: Any = None, **kw: Any):
                backend.tls_names.append(server_hostname)
                return self

        reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        return Stream([reply] * 10)

    async def connect_unix_socket(self, path: str, **options: Any) -> Any:
        raise AssertionError("never used")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def fetch_all(urls: list[str], resolver: Any, backend: RecordingBackend) -> list[Any]:
    async def go() -> list[Any]:
        async with make_client(NetworkConfig(), resolver=resolver, network_backend=backend) as c:
            results: list[Any] = []
            for url in urls:
                try:
                    results.append(await fetch(c, url, max_bytes=100))
                except FetchError as exc:
                    results.append(exc)
            return results

    return asyncio.run(go())


def test_connections_are_pinned_to_the_checked_address() -> None:
    """The real transport dials the checked IP itself (no second lookup), verifies TLS for
    the host name, and resolves each host once per client."""
    lookups: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return [PUBLIC]

    backend = RecordingBackend()
    [first, second] = fetch_all(
        ["https://feeds.example.org/rss", "https://feeds.example.org/atom"], resolver, backend
    )
    assert first.content == b"ok" and second.content == b"ok"
    assert backend.dialled == [(PUBLIC, 443)]  # the second request reused the connection
    assert backend.tls_names == ["feeds.example.org"]
    assert lookups == ["feeds.example.org"]


def test_two_sites_on_one_address_never_share_a_connection() -> None:
    """Pooled connections are keyed by host name: site B's request never rides a TLS
    connection that was verified for site A."""
    backend = RecordingBackend()
    results = fetch_all(
        ["https://a.example.org/feed", "https://b.example.org/feed"], resolves_to(PUBLIC), backend
    )
    assert [r.content for r in results] == [b"ok", b"ok"]
    assert backend.dialled == [(PUBLIC, 443), (PUBLIC, 443)]
    assert backend.tls_names == ["a.example.org", "b.example.org"]


def test_every_connection_opened_is_checked() -> None:
    """A name that resolves to a private address is refused at connect: nothing dialled."""
    answers = {"good.example.org": [PUBLIC], "intranet.example.org": ["10.0.0.7"]}

    async def resolver(host: str, port: int) -> list[str]:
        return answers[host]

    backend = RecordingBackend()
    good, bad, literal = fetch_all(
        [
            "http://good.example.org/",
            "http://intranet.example.org/",
            "http://169.254.169.254/latest/",
        ],
        resolver,
        backend,
    )
    assert good.content == b"ok"
    assert isinstance(bad, BlockedAddressError) and "10.0.0.7" in str(bad)
    assert isinstance(literal, BlockedAddressError)
    assert backend.dialled == [(PUBLIC, 80)]


def test_the_real_transport_refuses_localhost_at_connect() -> None:
    async def go() -> None:
        async with make_client(NetworkConfig()) as client:
            await fetch(client, "http://localhost:9/feed", max_bytes=100)

    with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.1|::1"):
        asyncio.run(go())
