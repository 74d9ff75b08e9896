"""A real HTTP server on 127.0.0.1 for the collect tests, with canned routes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from digest.config import Settings
from digest.models import RunReport
from digest.store import Store


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    etag: str | None = None  # answer If-None-Match with 304
    stream_bytes: int = 0  # send this many bytes in chunks, without a Content-Length


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # many sources connect at once
    daemon_threads = True


@dataclass
class Hit:
    path: str
    status: int
    headers: dict[str, str]


class LocalServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self.streamed = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.handle(self)

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        route = self.routes.get(request.path, Route(b"not found", 404, "text/plain"))
        if route.delay:
            time.sleep(route.delay)
        status = route.status
        if route.etag and request.headers.get("If-None-Match") == route.etag:
            status = 304
        self.hits.append(Hit(request.path, status, dict(request.headers)))
        try:
            request.send_response(status)
            for key, value in route.headers.items():
                request.send_header(key, value)
            if route.etag:
                request.send_header("ETag", route.etag)
            if status == 304:
                request.end_headers()
                return
            request.send_header("Content-Type", route.content_type)
            if route.stream_bytes:
                request.end_headers()
                self._stream(request, route.stream_bytes)
                return
            request.send_header("Content-Length", str(len(route.body)))
            request.end_headers()
            request.wfile.write(route.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading: that is what a byte cap does

    def _stream(self, request: BaseHTTPRequestHandler, total: int) -> None:
        chunk = b"<!-- padding -->" * 4096
        while self.streamed < total:
            request.wfile.write(chunk)
            self.streamed += len(chunk)
        request.close_connection = True

    def add(self, path: str, body: bytes = b"", **options: Any) -> Route:
        route = Route(body, **options)
        self.routes[path] = route
        return route

    def serve(
        self, path: str, file: Path, content_type: str = "application/rss+xml", etag: str = ""
    ) -> Route:
        route = Route(file.read_bytes(), content_type=content_type, etag=etag or None)
        self.routes[path] = route
        return route

    def hits_for(self, path: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.path == path]


@pytest.fixture
def server() -> Iterator[LocalServer]:
    local = LocalServer()
    local.thread.start()
    yield local
    local.httpd.shutdown()
    local.httpd.server_close()


@pytest.fixture
def local_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """Settings with the given sources, allowed to fetch from 127.0.0.1, short timeouts."""

    def build(sources: dict[str, Any], **network: Any) -> Settings:
        net = {"allow_private": True, "timeout": 5.0, **network}
        return make_settings(sources=sources, network=net)

    return build


@pytest.fixture
def collect_run(store: Store, now: datetime) -> Callable[..., RunReport]:
    """Run digest.sources.collect once and return its report.

    The collect runs at the frozen clock unless the test passes its own ``now``: a collect
    at the wall clock would drop the fixtures' dated entries once they left the window."""
    from digest.sources import collect

    def run(settings: Settings, **kwargs: Any) -> RunReport:
        report = RunReport()
        kwargs.setdefault("now", now)
        collect(settings, store, report, **kwargs)
        return report

    return run
