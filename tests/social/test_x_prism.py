"""X posting against X's own OpenAPI spec under Prism, which validates every request:
the v2 media upload (multipart), the alt text metadata and the posts that attach the
media must all be what the spec allows.

Prism (``@stoplight/prism-cli``) is installed once into ``~/.cache/digest-prism`` (or
``$DIGEST_PRISM_CACHE``) from ``../shared/peers/x-api``; without Node.js, npm or the
spec the test is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from requests.adapters import HTTPAdapter
from tests.social.conftest import make_edition
from tests.social.fakes import X_CHANNEL, FakeClock, stored_edition
from tests.social.test_x_media import small_png

from digest.models import RunReport
from digest.social import post_edition

pytestmark = pytest.mark.usefixtures("x_credentials")
SPEC_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "peers" / "x-api"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _install() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed to run X's spec under Prism")
    if not (SPEC_DIR / "openapi.json").exists():
        pytest.skip(f"X's OpenAPI spec is not at {SPEC_DIR}")
    cache = Path(os.environ.get("DIGEST_PRISM_CACHE", Path.home() / ".cache" / "digest-prism"))
    cache.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "openapi.json"):
        if (
            not (cache / name).exists()
            or (cache / name).read_bytes() != (SPEC_DIR / name).read_bytes()
        ):
            shutil.copy(SPEC_DIR / name, cache / name)
    if not (cache / "node_modules" / ".bin" / "prism").exists():
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund"],
            cwd=cache,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"npm install of Prism failed in {cache}: {done.stderr[-300:]}")
    return cache


@pytest.fixture(scope="module")
def prism() -> Iterator[str]:
    cache = _install()
    port = _free_port()
    prism = str(cache / "node_modules" / ".bin" / "prism")
    process = subprocess.Popen(
        [prism, "mock", "-h", "127.0.0.1", "-p", str(port), "--errors", "-d", "openapi.json"],
        cwd=cache,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None:
                    pytest.skip("Prism did not start")
                time.sleep(0.5)
        else:
            pytest.skip("Prism did not listen in time")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


class ToPrism(HTTPAdapter):
    """Sends every X request to Prism; records what Prism said of each.

    Prism's generated example ids are not numeric, so a test answers ``/2/users/me``
    and the post ids itself once Prism has accepted the request."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = urlsplit(base)
        self.seen: list[tuple[str, str, int, str]] = []  # method, path, status, body
        self.tweets = 0

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        parts = urlsplit(request.url or "")
        request.url = urlunsplit((self.base.scheme, self.base.netloc, *parts[2:]))
        response = super().send(request, **kwargs)  # type: ignore[arg-type]
        self.seen.append((request.method or "", parts.path, response.status_code, response.text))
        if response.status_code < 400:
            return self._realistic(parts.path, response)
        return response

    def _realistic(self, path: str, response: requests.Response) -> requests.Response:
        body: dict[str, object] | None = None
        if path == "/2/users/me":
            body = {"data": {"id": "42", "name": "Fed", "username": "fed"}}
        elif path == "/2/tweets":
            self.tweets += 1
            body = {"data": {"id": str(1860000000000000100 + self.tweets), "text": "ok"}}
        elif path == "/2/media/upload":
            body = {"data": {"id": "1860000000000000001", "media_key": "3_1860000000000000001"}}
        if body is not None:
            response._content = json.dumps(body).encode()
        return response


def test_media_upload_alt_text_and_posts_validate_against_xs_spec(social_settings, store, prism):
    settings = social_settings({"x": X_CHANNEL})
    adapter = ToPrism(prism)
    session = requests.Session()
    session.mount("https://", adapter)
    edition = make_edition(3)
    edition.id = stored_edition(store)
    report = RunReport()
    post_edition(
        settings,
        store,
        edition,
        report,
        x_session=session,
        clock=FakeClock(),
        fetch_image=lambda url: small_png(),
    )
    invalid = [s for s in adapter.seen if s[2] == 422]
    assert invalid == [], invalid  # Prism lists the spec violations of a bad request
    paths = [(method, path) for method, path, _status, _body in adapter.seen]
    assert paths[:3] == [
        ("POST", "/2/media/upload"),
        ("POST", "/2/media/metadata"),
        ("POST", "/2/tweets"),
    ]
    assert paths.count(("POST", "/2/tweets")) == 3
    assert not [w for w in report.warnings if "left out" in w]
    assert report.posts == 3
