"""One registry per pluggable kind: a new integration is one config class plus one module.

The config classes register themselves by their ``type``; the config's validation, its
error messages, the collect's dry-run lines and the channel lookups all read the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import pytest

from digest.config import ChannelBase, EmailChannel, Settings, SocialChannel, SourceBase
from digest.errors import ConfigError
from digest.models import Item, Origin, RunReport
from digest.social.limits import RULES, rules_for
from digest.sources import collect
from digest.sources.base import READERS, SourceContext, register
from digest.sources.plan import collect_plan
from digest.store import Store
from digest.store.items import items_between


class NoticeBoardReader:
    """The module that reads the new source type (see the fixture for its config class)."""

    async def read(self, config: Any, ctx: SourceContext) -> list[Item]:
        return [
            Item(
                source_id=ctx.source_id,
                guid="notice-1",
                url="https://board.example.org/notice-1",
                title=f"Meeting notice from the {config.board} board",
                origin=Origin("Hall"),
                published_at=ctx.now - timedelta(hours=1),
            )
        ]


@pytest.fixture
def notice_board() -> Iterator[type[SourceBase]]:
    """A new source type, written the way any integration is: a config class (which
    registers itself by its ``type`` when it is made) and its reader. Made here, and
    taken out again after the test, so other tests see only the shipped types."""

    class NoticeBoardSource(SourceBase):
        type: Literal["notice_board"]
        board: str

        def describe(self) -> str:
            return f"notices pinned on the {self.board} board"

    register("notice_board")(NoticeBoardReader)
    yield NoticeBoardSource
    SourceBase.registry.pop("notice_board")
    READERS.pop("notice_board")


def test_a_new_source_type_is_a_config_class_and_a_reader(
    notice_board: type[SourceBase],
    make_settings: Callable[..., Settings],
    store: Store,
    now: Any,
) -> None:
    source = {"type": "notice_board", "board": "union hall"}
    settings = make_settings(sources={"hall": source})
    assert isinstance(settings.sources["hall"], notice_board)
    assert collect_plan(settings) == ["hall: notices pinned on the union hall board"]
    report = RunReport(newsletter="collect")
    collect(settings, store, report, now=now)
    with store.session() as session:
        items = items_between(session, now - timedelta(days=1), now, ["hall"])
    assert [item.title for item in items] == ["Meeting notice from the union hall board"]
    with pytest.raises(ConfigError) as caught:
        make_settings(sources={"hall": {**source, "bord": "x"}})
    assert "sources.hall.bord: unknown key 'bord' (did you mean 'board'?)" in caught.value.problems


def test_unknown_types_list_every_registered_one(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(sources={"blog": {"type": "fead", "url": "https://a.example/feed"}})
    (problem,) = caught.value.problems
    assert "sources.blog.type: unknown type 'fead' (did you mean 'feed'?)" in problem
    for name in SourceBase.registry:
        assert f"'{name}'" in problem


def test_a_misspelt_social_channel_key_gets_a_suggestion(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """``bluesky`` and ``x`` name both a source and a channel type: a channel's keys are
    the channel's (the source's were suggested before, so nothing was)."""
    channel = {"type": "bluesky", "handle": "fed.example", "app_pasword": "${BSKY}"}
    with pytest.raises(ConfigError) as caught:
        make_settings(channels={"b": channel})
    assert (
        "channels.b.app_pasword: unknown key 'app_pasword' (did you mean 'app_password'?)"
        in caught.value.problems
    )


def test_an_outbox_posts_for_a_registered_platform(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(channels={"o": {"type": "outbox", "platform": "mastodon"}})
    assert caught.value.problems == [
        "channels.o.platform: 'mastodon' is not allowed; expected 'bluesky' or 'x'"
    ]


def test_every_social_platform_has_its_own_rules() -> None:
    platforms = {
        cls.model_fields["type"].annotation.__args__[0]  # type: ignore[union-attr]
        for cls in ChannelBase.registry.values()
        if issubclass(cls, SocialChannel) and cls.__name__ != "SocialOutboxChannel"
    }
    assert platforms == set(RULES)
    with pytest.raises(ValueError, match="unknown social platform 'mastodon'"):
        rules_for("mastodon")
    assert rules_for("x").describe("hello") == "5/280 weighted characters"
    assert rules_for("bluesky").describe("héllo") == "5/300 graphemes, 6/3000 bytes"


def test_channels_are_found_by_kind(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    settings = make_settings(
        channels={
            "email": {"type": "maildir", "path": str(tmp_path / "out")},
            "social": {"type": "outbox", "platform": "x"},
        },
        newsletters={
            "weekly": {
                "title": "Weekly",
                "schedule": "fri 16:00",
                "formats": ["weekly_list"],
                "channels": ["social", "email"],
            }
        },
    )
    assert settings.channel_names("weekly", EmailChannel) == ["email"]
    assert settings.channel_names("weekly", SocialChannel) == ["social"]
    social = settings.channels["social"]
    assert isinstance(social, SocialChannel) and social.platform == "x"
