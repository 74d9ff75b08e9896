"""The edition's dates read the way an editor writes them."""

from __future__ import annotations

from datetime import datetime

import pytest

from digest.render.filters import date_range


@pytest.mark.parametrize(
    ("start", "end", "shown"),
    [
        ("2026-11-13T16:00-05:00", "2026-11-20T16:00-05:00", "November 13–20, 2026"),
        ("2026-10-30T16:00-04:00", "2026-11-06T16:00-05:00", "October 30 – November 6, 2026"),
        ("2026-12-25T16:00-05:00", "2027-01-01T16:00-05:00", "December 25, 2026 – January 1, 2027"),
        ("2026-11-20T07:00-05:00", "2026-11-20T07:00-05:00", "November 20, 2026"),
        # in the newsletter's zone, not UTC: 02:00 UTC on the 21st is still the 20th
        ("2026-11-13T02:00+00:00", "2026-11-21T02:00+00:00", "November 12–20, 2026"),
    ],
)
def test_date_range(start: str, end: str, shown: str) -> None:
    context = {"timezone": "America/New_York"}
    assert date_range(context, datetime.fromisoformat(start), datetime.fromisoformat(end)) == shown
