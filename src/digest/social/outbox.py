"""The social outbox (the embedded default): the exact posts, written as JSON, not posted."""

from __future__ import annotations

import json
import os
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

from digest.config import Settings, SocialOutboxChannel
from digest.models import Edition, Post


def outbox_path(settings: Settings, channel: SocialOutboxChannel, edition: Edition) -> Path:
    """``<path>/<newsletter>/<period end date>-<HHMM>-<platform>.json`` (local time).

    The time of day is in the name so two editions of one newsletter ending the same
    day (a morning and an evening edition) never overwrite each other's file.
    """
    folder = settings.resolve_path(channel.path) / edition.newsletter
    newsletter = settings.newsletters.get(edition.newsletter)
    zone = ZoneInfo(newsletter.timezone) if newsletter is not None else UTC
    end = edition.period_end.astimezone(zone)
    return folder / f"{end:%Y-%m-%d-%H%M}-{channel.platform}.json"


def write_outbox(path: Path, posts: list[Post]) -> None:
    """Write the list of ``{platform, part, text, facets, embed}`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    data = [post.to_dict() for post in posts]
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
