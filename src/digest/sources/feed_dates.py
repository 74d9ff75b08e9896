"""Entry dates that can be trusted: RFC 822 (RSS) or ISO 8601 / RFC 3339 (Atom, JSON Feed).

feedparser tries dozens of date formats and sometimes guesses wrong (``2020/1/10
14:33:00`` came out as 2020-12-01). A date is read here only in the formats the feed
specifications name, with the lenient spellings real feeds use (no colon in the offset,
a space instead of ``T``, no seconds, a named US zone); anything else is reported and the
entry is dated when it was first seen, as an undated one.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from email.utils import parsedate_to_datetime

DATE_KEYS = ("published", "updated", "created")
_OFFSET_WITHOUT_COLON = re.compile(r"([+-]\d\d)(\d\d)$")
_ISO_DATE_ONLY = re.compile(r"^\d{4}-\d\d-\d\d$")
# RFC 822's "UT" and ISO's "Z" both mean UTC.
_UTC_SUFFIX = re.compile(r"(?:Z|UTC|GMT|UT)$", re.IGNORECASE)


class UntrustedDate(ValueError):
    """A date in none of the formats the feed specifications name."""


def strict_date(value: str) -> datetime:
    """An aware UTC datetime from an RFC 822 or ISO 8601 date; UntrustedDate if not."""
    text = " ".join(str(value).split())
    if not text:
        raise UntrustedDate("empty date")
    found = _iso(text) or _rfc822(text)
    if found is None:
        raise UntrustedDate(f"'{text}' is neither an RFC 822 nor an ISO 8601 date")
    return found


def _iso(text: str) -> datetime | None:
    if not text[:4].isdigit() or len(text) < 10 or text[4] != "-":
        return None
    if _ISO_DATE_ONLY.match(text):
        return datetime.combine(date.fromisoformat(text), time(12, 0, tzinfo=UTC))
    candidate = _UTC_SUFFIX.sub("+00:00", text.replace(" ", "T", 1).replace(" ", ""))
    candidate = _OFFSET_WITHOUT_COLON.sub(r"\1:\2", candidate)
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _rfc822(text: str) -> datetime | None:
    if not re.search(r"\b\d{1,2} [A-Za-z]{3,9}\.? \d{2,4}\b", text):
        return None  # parsedate also reads "2020/1/10"-like strings in odd ways
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def entry_date(entry: dict[str, object]) -> tuple[datetime | None, str | None]:
    """A feedparser entry's publication date (else its update or creation date) and,
    when a date was given but cannot be trusted, what was wrong with it."""
    problem = None
    for key in DATE_KEYS:
        raw = entry.get(key)
        if not raw:
            continue
        try:
            return strict_date(str(raw)), None
        except UntrustedDate as exc:
            problem = problem or str(exc)
    return None, problem
