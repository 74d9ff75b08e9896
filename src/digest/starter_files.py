"""Dates for the starter's sample items, written when `digest init` runs.

Fixed dates in the starter went stale: on any later day the first collect stored nothing
(too old for the window) and the first preview was empty. The sample files hold
``{sample_date:HOURS:FORMAT}`` markers instead, replaced at init time with a moment
HOURS before the end of the period a preview at that time shows (FORMAT ``iso`` for
YAML front matter, ``rfc822`` for RSS), so the samples land in that edition and inside
the collect window.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

MARKER = re.compile(r"\{sample_date:(\d+):(iso|rfc822)\}")
SAMPLE_SUFFIXES = (".xml", ".yaml", ".yml", ".md", ".csv", ".json")


def date_samples(config_path: Path, now: datetime) -> list[Path]:
    """Fill the date markers in the sample sources next to ``config_path``."""
    end = _period_end(config_path, now)
    written = []
    for path in sorted((config_path.parent / "sources").rglob("*")):
        if not path.is_file() or path.suffix.lower() not in SAMPLE_SUFFIXES:
            continue
        text = path.read_text(encoding="utf-8")
        filled = MARKER.sub(lambda m: _format(end, int(m[1]), m[2]), text)
        if filled != text:
            path.write_text(filled, encoding="utf-8")
            written.append(path)
    return written


def _period_end(config_path: Path, now: datetime) -> datetime:
    """The end of the first newsletter's current period: what `digest preview` shows."""
    from digest.config import load_config
    from digest.pipeline import current_period

    settings = load_config(config_path)
    first = next(iter(settings.newsletters))
    end = current_period(settings, first, now).end
    return min(end, now)


def _format(end: datetime, hours: int, style: str) -> str:
    moment = (end - timedelta(hours=hours)).replace(microsecond=0)
    return format_datetime(moment) if style == "rfc822" else moment.isoformat()
