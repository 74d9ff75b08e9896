"""Only the organisation's own photos go out under its account."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.social.conftest import make_edition

from digest.config import Settings
from digest.models import Media, Origin
from digest.social import compose


def test_a_photo_from_an_outlet_or_affiliate_is_not_posted(
    social_settings: Callable[..., Settings],
) -> None:
    settings = social_settings({"bsky_out": {"type": "outbox", "platform": "bluesky"}})
    edition = make_edition()
    first = edition.sections[0].items[0]
    own_card: Any = compose(settings, edition, "bluesky")[0].embed
    assert own_card.thumb_url == "https://img.example.org/photo.jpg"
    for kind in ("news_outlet", "affiliate", "state_federation"):
        first.origin = Origin("Someone Else", kind)
        first.media = (Media("https://img.example.org/theirs.jpg", "Their photo"),)
        card = compose(settings, edition, "bluesky")[0].embed
        assert card is not None and card.thumb_url is None, kind
