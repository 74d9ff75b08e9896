"""The one outbound HTTP client: bounded in time and size, and refusing private addresses.

Every request made through a client from ``make_client`` passes ``GuardedTransport``,
which refuses non-HTTP schemes and non-public literal addresses. Host names are checked
when a connection is opened: with the real network, ``PinnedNetworkBackend`` resolves
the host (once per host per client), refuses it if any address is not public, and dials
the checked address itself, so a DNS answer cannot change between the check and the
connect, and every connection actually opened has been checked. Connections stay keyed
by host name, so TLS is verified for the name asked for and two sites sharing an address
never share a connection. With an injected transport (tests) the check runs per request.
A redirect (followed by ``fetch`` one hop at a time) or a direct ``client.get`` is
checked the same way.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urljoin

import httpcore
import httpx

from digest.config import NetworkConfig
from digest.errors import DigestError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)
# Few idle connections: httpcore checks every idle one on each request (quadratic with
# many), and a collect rarely asks one host twice.
KEEPALIVE = 4
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Only the encodings whose decoder can stop at a given output size (zlib's max_length)
# are asked for. httpx's own decoders inflate a whole network chunk at once: a 33 KB
# zstd body became 2.2 GB in memory before any cap could look at it. A server that
# answers with another encoding anyway (br, zstd, stacked encodings) is refused.
ACCEPT_ENCODING = "gzip, deflate"


class FetchError(DigestError):
    """A fetch failed: refused, timed out, too many redirects, or the connection broke."""


class BlockedAddressError(FetchError):
    """The URL points at a private, loopback, link-local, reserved or non-HTTP target."""


@dataclass
class FetchResult:
    status: int
    url: str  # after redirects
    headers: httpx.Headers
    content: bytes
    not_modified: bool = False
    truncated: bool = False  # the body passed max_bytes and was cut off there

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return str(self.headers.get("content-type", "")).split(";")[0].strip().lower()

    def text(self) -> str:
        """The body as text; a wrong or unknown charset never raises."""
        charset = "utf-8"
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                charset = value.strip().strip("\"'")
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def literal_ip(host: str) -> IPAddress | None:
    """The address a host spells directly, in any form inet_aton accepts
    (``127.1``, ``2130706433``, ``0x7f000001``, ``0177.0.0.1``) or IPv6."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, UnicodeError):
        return None


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast only; IPv4 wrapped in IPv6 is judged as IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if inner is not None and not is_public(inner):
            return False
    return address.is_global and not (address.is_multicast or address.is_reserved)


class AddressGuard:
    """Decides whether a host may be contacted, and at which address.

    Resolutions are cached per (host, port) for the guard's life (one collect), and
    concurrent lookups of one host share a single query.
    """

    def __init__(self, resolver: Resolver = system_resolver) -> None:
        self.resolver = resolver
        self._lookups: dict[tuple[str, int], asyncio.Future[list[str]]] = {}

    async def checked_address(self, host: str, port: int) -> IPAddress:
        literal = literal_ip(host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                found = await self._resolve(host, port)
            except OSError as exc:
                raise FetchError(f"cannot resolve host '{host}': {exc}") from None
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in found]
        if not addresses:
            raise FetchError(f"cannot resolve host '{host}'")
        for address in addresses:
            if not is_public(address):
                raise BlockedAddressError(
                    f"refused {host}: it resolves to the non-public address {address} "
                    "(set network.allow_private to fetch from local addresses)"
                )
        return addresses[0]

    async def _resolve(self, host: str, port: int) -> list[str]:
        key = (host.lower(), port)
        lookup = self._lookups.get(key)
        if lookup is None:
            lookup = asyncio.ensure_future(self.resolver(host, port))
            self._lookups[key] = lookup
        try:
            return list(await asyncio.shield(lookup))
        except OSError:
            self._lookups.pop(key, None)  # a failed lookup is not remembered
            raise


class PinnedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Every TCP connection goes to an address the guard checked for that host."""

    def __init__(self, guard: AddressGuard, inner: httpcore.AsyncNetworkBackend) -> None:
        self.guard = guard
        self.inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await self.guard.checked_address(host, port)
        return await self.inner.connect_tcp(
            str(address),
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddressError(f"refused the Unix socket {path}: only TCP is used")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncBaseTransport):
    """Refuses non-HTTP schemes and non-public addresses before the inner transport runs.

    With ``pinned`` (the inner transport's connections go through a
    ``PinnedNetworkBackend`` of the same guard) host names are left to the connect-time
    check; literal addresses are still refused here, before any connection is looked for.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        allow_private: bool,
        resolver: Resolver = system_resolver,
        guard: AddressGuard | None = None,
        pinned: bool = False,
    ) -> None:
        self.inner = inner
        self.allow_private = allow_private
        self.guard = guard or AddressGuard(resolver)
        self.pinned = pinned

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise BlockedAddressError(f"refused {url}: only http and https URLs are fetched")
        if not self.allow_private and not (self.pinned and literal_ip(url.host) is None):
            await self.guard.checked_address(url.host, url.port or _default_port(url))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context, built once per process: loading the CA bundle
    takes ~70 ms, which every collect (every client) paid again. An SSLContext may be
    shared by many connections and threads."""
    return httpx.create_ssl_context()


def make_client(
    network: NetworkConfig,
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    resolver: Resolver = system_resolver,
    network_backend: httpcore.AsyncNetworkBackend | None = None,
) -> httpx.AsyncClient:
    """A client whose every request is guarded; ``transport`` is for tests (MockTransport),
    and so is ``network_backend`` (what the real transport connects through)."""
    guard = AddressGuard(resolver)
    pinned = transport is None and not network.allow_private
    inner = transport or _network_transport(network, guard, pinned, network_backend)
    guarded = GuardedTransport(
        inner, allow_private=network.allow_private, guard=guard, pinned=pinned
    )
    return httpx.AsyncClient(
        transport=guarded,
        timeout=httpx.Timeout(network.timeout),
        follow_redirects=False,
        max_redirects=network.max_redirects,
        headers={"User-Agent": network.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
    )


def _network_transport(
    network: NetworkConfig,
    guard: AddressGuard,
    pinned: bool,
    backend: httpcore.AsyncNetworkBackend | None,
) -> httpx.AsyncHTTPTransport:
    limits = httpx.Limits(max_connections=network.concurrency, max_keepalive_connections=KEEPALIVE)
    transport = httpx.AsyncHTTPTransport(verify=shared_ssl_context(), limits=limits)
    if pinned or backend is not None:
        # httpx has no parameter for the network backend; its transport sends every
        # request to this pool (the same settings it built its own with).
        inner = backend or httpcore.AnyIOBackend()
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=shared_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedNetworkBackend(guard, inner) if pinned else inner,
        )
    return transport


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FetchResult:
    """GET ``url``, following at most ``client.max_redirects`` redirects one hop at a time.

    A conditional request is sent when validators are given (a 304 gives
    ``not_modified``). The body is streamed and cut at ``max_bytes`` (``truncated``).
    Whether private addresses may be fetched is the client's guard's business
    (``network.allow_private``, in ``make_client``).
    """
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    deadline = 2 * (client.timeout.read or 10.0)
    current = url
    for _hop in range(client.max_redirects + 1):
        if not current.lower().startswith(("http://", "https://")):
            raise BlockedAddressError(f"refused {current}: only http and https URLs are fetched")
        try:
            async with asyncio.timeout(deadline):
                result = await _get_once(client, current, headers, max_bytes)
        except TimeoutError:
            raise FetchError(f"timed out after {deadline:g}s fetching {current}") from None
        except httpx.TimeoutException as exc:
            raise FetchError(f"timed out fetching {current} ({type(exc).__name__})") from None
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise FetchError(f"could not fetch {current}: {type(exc).__name__}: {exc}") from None
        location = result.headers.get("location")
        if result.status not in REDIRECTS or not location:
            return result
        current = urljoin(current, location)
    raise FetchError(f"too many redirects (more than {client.max_redirects}) from {url}")


async def _get_once(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], max_bytes: int
) -> FetchResult:
    async with client.stream("GET", url, headers=headers) as response:
        result = FetchResult(response.status_code, url, response.headers, b"")
        if response.status_code == 304:
            result.not_modified = True
            return result
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            result.truncated = True
            return result
        body, result.truncated = await bounded_body(response, max_bytes)
        result.content = body
        return result


class _Inflater:
    """gzip (any number of members) or deflate (zlib-wrapped or raw, as httpx accepts),
    decoded at most ``limit`` bytes at a time so a bomb never inflates past the cap."""

    def __init__(self, encoding: str) -> None:
        self.gzip = encoding in ("gzip", "x-gzip")
        self.started = False
        self.inner = self._new()

    def _new(self, raw: bool = False) -> zlib._Decompress:
        wbits = zlib.MAX_WBITS | 16 if self.gzip else (-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
        return zlib.decompressobj(wbits)

    def decode(self, data: bytes, limit: int) -> bytes:
        """Up to ``limit`` + 1 bytes of output (one more tells the caller it is over)."""
        out = bytearray()
        while data and len(out) <= limit:
            try:
                out += self.inner.decompress(data, limit + 1 - len(out))
            except zlib.error:
                if self.gzip or self.started:
                    raise
                self.inner = self._new(raw=True)  # a server's "deflate" without the header
                out += self.inner.decompress(data, limit + 1 - len(out))
            self.started = True
            data = self.inner.unconsumed_tail
            if self.inner.eof and self.inner.unused_data:  # the next gzip member
                data, self.inner = self.inner.unused_data, self._new()
        return bytes(out)


def _content_encoding(response: httpx.Response) -> str:
    codings = [
        c.strip().lower()
        for c in response.headers.get("content-encoding", "").split(",")
        if c.strip() and c.strip().lower() != "identity"
    ]
    if not codings:
        return "identity"
    if len(codings) > 1 or codings[0] not in ("gzip", "x-gzip", "deflate"):
        raise FetchError(
            f"refused {response.url}: content encoding '{', '.join(codings)}' is not one "
            f"digest can decode within its size cap (it asks for {ACCEPT_ENCODING})"
        )
    return str(codings[0])


async def bounded_body(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    """The decoded body, cut at ``max_bytes`` as it is decoded: (body, truncated).

    Reads the raw stream and inflates it here, never holding more than ``max_bytes``
    decoded plus one network chunk, whatever the compression ratio."""
    encoding = _content_encoding(response)
    try:  # a response built in memory (an injected transport) was decoded when made
        loaded = response.content
    except httpx.ResponseNotRead:
        pass
    else:
        return loaded[:max_bytes], len(loaded) > max_bytes
    inflater = None if encoding == "identity" else _Inflater(encoding)
    body = bytearray()
    raw: AsyncIterator[bytes] = response.aiter_raw()
    try:
        async for chunk in raw:
            room = max_bytes - len(body)
            try:
                decoded = chunk if inflater is None else inflater.decode(chunk, room)
            except zlib.error as exc:
                message = f"could not decode the {encoding} body of {response.url}: {exc}"
                raise FetchError(message) from None
            if len(decoded) > room:
                body += decoded[:room]
                return bytes(body), True
            body += decoded
    finally:
        await response.aclose()
    return bytes(body), False
