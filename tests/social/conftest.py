"""Editions and settings with social channels, shared by the social tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from digest.config import Settings
from digest.models import Edition, Group, Item, Media, Origin, Section, SocialPost

PERIOD_END = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)


def story(n: int, title: str | None = None, **extra: Any) -> Item:
    return Item(
        source_id="blog",
        guid=f"g{n}",
        url=f"https://news.example.org/2026/11/story-{n}",
        title=title or f"Nurses at Mercy General win a first contract after {n} months",
        origin=Origin("Example Labor News", "news_outlet"),
        published_at=PERIOD_END,
        **extra,
    )


def bsky_item(n: int, heading: str, handle: str, did: str) -> Item:
    return Item(
        source_id="bsky",
        guid=f"at://{did}/app.bsky.feed.post/3k{n}",
        url=f"https://bsky.app/profile/{handle}/post/3k{n}",
        title="Rally at the capitol",
        origin=Origin(heading, "state_federation", "OH"),
        published_at=PERIOD_END,
        post=SocialPost(
            "bluesky",
            f"https://bsky.app/profile/{handle}/post/3k{n}",
            handle,
            heading,
            did,
            None,
            "Rally at the capitol today",
        ),
    )


def make_edition(headlines: int = 3, edition_id: int | None = None) -> Edition:
    weekly = Section(
        "weekly_list",
        "Working People Weekly List",
        "",
        "weekly_list",
        items=[story(n) for n in range(1, headlines + 1)],
    )
    weekly.items[0].media = (Media("https://img.example.org/photo.jpg", "Nurses on a picket line"),)
    # our own story: only the organisation's own photos are posted under its account
    weekly.items[0].origin = Origin("Test Federation", "own_blog")
    states = Section(
        "in_the_states",
        "In the States",
        "",
        "in_the_states",
        groups=[
            Group(
                "Ohio AFL-CIO",
                [bsky_item(1, "Ohio AFL-CIO", "ohioaflcio.bsky.social", "did:plc:ohio123")],
            ),
            Group("Texas AFL-CIO", [story(99, "Texas workers rally")]),
        ],
    )
    return Edition(
        newsletter="weekly",
        title="Working People Weekly List",
        subject="Weekly",
        period_start=datetime(2026, 11, 13, 21, 0, tzinfo=UTC),
        period_end=PERIOD_END,
        sections=[weekly, states],
        id=edition_id,
    )


@pytest.fixture
def x_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test values for the X channel's four ${X_...} secrets."""
    from tests.social.fakes import X_SECRETS

    for name in X_SECRETS:
        monkeypatch.setenv(name, f"test-{name.lower()}")


@pytest.fixture
def social_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """Settings whose weekly newsletter has the given channels (name → config)."""

    def build(channels: dict[str, Any], **overrides: Any) -> Settings:
        from tests.conftest import minimal_config  # noqa: F401  (import keeps paths honest)

        raw_channels = {"email": {"type": "maildir"}, **channels}
        newsletters = {
            "weekly": {
                "title": "Working People Weekly List",
                "schedule": "fri 16:00",
                "timezone": "America/New_York",
                "formats": ["weekly_list"],
                "channels": ["email", *channels],
                # the posting tests exercise threads: a root and one reply per section
                "social": {"shape": "thread"},
            }
        }
        return make_settings(channels=raw_channels, newsletters=newsletters, **overrides)

    return build


@pytest.fixture(scope="session")
def pds_url() -> Iterator[str]:
    """A real PDS on loopback, one per test session (skips without Node.js/npm)."""
    from tests.social.pds_server import start_pds

    yield from start_pds()


@pytest.fixture(scope="session")
def account(pds_url: str) -> str:
    """The DID of the test account on the PDS."""
    from atproto import Client, models
    from tests.social.pds_server import HANDLE, PASSWORD

    client = Client(base_url=pds_url)
    created = client.com.atproto.server.create_account(
        models.ComAtprotoServerCreateAccount.Data(
            handle=HANDLE, email="fed@example.test", password=PASSWORD
        )
    )
    return str(created.did)


@pytest.fixture
def bsky_settings(
    social_settings: Callable[..., Settings],
    pds_url: str,
    account: str,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    """Settings posting to the test account on the local PDS, with its own session file."""
    from tests.social.pds_server import HANDLE, PASSWORD

    monkeypatch.setenv("BSKY_APP_PASSWORD", PASSWORD)
    return social_settings(
        {
            "bluesky": {
                "type": "bluesky",
                "handle": HANDLE,
                "app_password": "${BSKY_APP_PASSWORD}",
                "service": pds_url,
                "session_file": str(tmp_path / "state" / "bsky-session"),
                "langs": ["en"],
            }
        }
    )
