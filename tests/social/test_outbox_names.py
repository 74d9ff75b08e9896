"""Two editions of one newsletter ending on the same day keep their own outbox files."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

from tests.social.conftest import make_edition

from digest.models import RunReport
from digest.social import post_edition


def test_two_editions_on_one_day_do_not_overwrite_each_others_outbox(social_settings, store):
    settings = social_settings({"bsky_out": {"type": "outbox", "platform": "bluesky"}})
    evening = make_edition(3)
    morning = dataclasses.replace(
        make_edition(2), period_end=evening.period_end - timedelta(hours=7)
    )
    first, second = RunReport(), RunReport()
    post_edition(settings, store, morning, first)
    post_edition(settings, store, evening, second)
    label = "Bluesky outbox (bsky_out)"
    paths = [first.outputs[label], second.outputs[label]]
    assert paths[0] != paths[1]
    assert paths[0].endswith("2026-11-20-0900-bluesky.json")
    written = [json.loads(Path(path).read_text(encoding="utf-8")) for path in paths]
    assert all(written) and written[0] != written[1]
