"""The social outbox (the embedded default): the exact posts, written as JSON, not posted."""

from __future__ import annotations

import json
import os
from pathlib import Path

from digest.config import Settings, SocialOutboxChannel
from digest.models import Edition, Post


def outbox_path(settings: Settings, channel: SocialOutboxChannel, edition: Edition) -> Path:
    """``<path>/<newsletter>/<period date>-<platform>.json``."""
    folder = settings.resolve_path(channel.path) / edition.newsletter
    return folder / f"{edition.period_end.date().isoformat()}-{channel.platform}.json"


def write_outbox(path: Path, posts: list[Post]) -> None:
    """Write the list of ``{platform, part, text, facets, embed}`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    data = [post.to_dict() for post in posts]
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
