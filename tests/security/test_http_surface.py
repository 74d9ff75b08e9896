"""Headers an attacker controls: X-Forwarded-For, Host; and HSTS on https."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.web.conftest import STAFF_HASH, two_newsletter_overrides

from digest.config import Settings
from digest.errors import ConfigError
from digest.store import Store
from digest.store.tables import ConsentRow
from digest.web import create_app
from digest.web.ratelimit import RateLimiter

PROXY = ("127.0.0.1", 40000)


def _proxied_settings(
    make_settings: Callable[..., Settings],
    raw_config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    trusted: list[str],
) -> Settings:
    monkeypatch.setenv("DIGEST_TEST_STAFF_HASH", STAFF_HASH)
    overrides = two_newsletter_overrides(raw_config)
    overrides["web"] = {**overrides["web"], "trusted_proxies": trusted}
    return make_settings(**overrides)


def _consent_ips(store: Store) -> list[str | None]:
    with store.session() as session:
        return [row.ip for row in session.scalars(select(ConsentRow).order_by(ConsentRow.id))]


@pytest.mark.parametrize(
    ("trusted", "expected"), [([], "127.0.0.1"), (["127.0.0.1"], "198.51.100.7")]
)
def test_forwarded_for_counts_only_from_a_configured_proxy(
    make_settings: Callable[..., Settings],
    raw_config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    store: Store,
    trusted: list[str],
    expected: str,
) -> None:
    settings = _proxied_settings(make_settings, raw_config, monkeypatch, trusted)
    limiter = RateLimiter(per_minute=1, burst=1)
    app = create_app(settings, store, signup_limiter=limiter)
    with TestClient(app, client=PROXY) as client:
        for n, forged in enumerate(("198.51.100.7", "198.51.100.8")):
            response = client.post(
                "/subscribe",
                data={"email": f"p{n}@example.org", "lists": ["weekly"]},
                headers={"X-Forwarded-For": forged},
            )
            if not trusted:  # a new forged address each time does not get round the limit
                assert response.status_code == (200 if n == 0 else 429)
    assert _consent_ips(store)[0] == expected


def test_trusted_proxies_must_be_addresses(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError, match=r"web\.trusted_proxies"):
        make_settings(web={"trusted_proxies": ["my-proxy"]})


def test_slash_redirect_ignores_the_host_header(client: TestClient) -> None:
    for path in ("/archive/weekly", "//evil.example/archive/weekly", "/\\evil.example"):
        response = client.get(path, headers={"Host": "evil.example"})
        location = response.headers.get("location", "")
        assert "evil.example" not in location.split("/archive")[0], (path, location)
        assert not location.startswith(("//", "/\\", "http"))
    ok = client.get("/archive/weekly?page=2", headers={"Host": "evil.example"})
    assert ok.status_code == 307 and ok.headers["location"] == "/archive/weekly/?page=2"
    assert client.get("/no-such-page").status_code == 404


def test_hsts_is_sent_over_https_only(
    make_client: Callable[..., TestClient],
    web_settings: Settings,
    make_settings: Callable[..., Settings],
    raw_config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    store: Store,
) -> None:
    plain = make_client()
    assert "strict-transport-security" not in plain.get("/subscribe").headers
    secure = TestClient(create_app(web_settings, store), base_url="https://testserver")
    assert secure.get("/subscribe").headers["strict-transport-security"] == "max-age=31536000"
    # behind a trusted TLS-terminating proxy, X-Forwarded-Proto says https
    settings = _proxied_settings(make_settings, raw_config, monkeypatch, ["127.0.0.1"])
    with TestClient(create_app(settings, store), client=PROXY) as proxied:
        response = proxied.get("/subscribe", headers={"X-Forwarded-Proto": "https"})
        assert response.headers["strict-transport-security"] == "max-age=31536000"
    spoofed = make_client().get("/subscribe", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in spoofed.headers
