"""The demo's sample content in examples/ is well-formed and fits the demo week.

These tests read the files directly (feedparser, yaml, csv, json), so a broken sample
fails here with the file's name rather than somewhere deep inside `make demo`.
"""

from __future__ import annotations

import calendar
import csv
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import feedparser
import pytest
import yaml

from digest.formats.curated_data import AffiliatesFile, PoliticalFile
from digest.subscribers import InvalidAddress, normalize_email

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FEEDS = EXAMPLES / "feeds"
WEEKLY_LIST = EXAMPLES / "curated" / "weekly-list"
SPOTLIGHT = EXAMPLES / "curated" / "spotlight"

NEW_YORK = ZoneInfo("America/New_York")
# The weekly edition: the 7 days ending Friday 2026-11-20 16:00 New York time.
WEEK_START = datetime(2026, 11, 13, 16, 0, tzinfo=NEW_YORK)
WEEK_END = datetime(2026, 11, 20, 16, 0, tzinfo=NEW_YORK)
# The daily Spotlight edition sent on the morning of 2026-11-20.
DAY_START = datetime(2026, 11, 19, 7, 0, tzinfo=NEW_YORK)
DAY_END = datetime(2026, 11, 20, 7, 0, tzinfo=NEW_YORK)

CLIP_FIELDS = ("title", "url", "excerpt", "outlet", "date", "tags")
EXAMPLE_HOSTS = ("example.org", "example.com", "example.net")
SENTENCE_END = re.compile(r"[.!?][\"')]?(?:\s|$)")

XML_FEEDS = sorted(FEEDS.glob("*/*.xml"))
JSON_FEEDS = sorted(FEEDS.glob("*/*.json"))
CLIP_YAML = sorted(WEEKLY_LIST.glob("*.yaml"))
CLIP_MARKDOWN = sorted(WEEKLY_LIST.glob("*.md"))
SPOTLIGHT_MARKDOWN = sorted(SPOTLIGHT.glob("*.md"))


def in_week(when: datetime) -> bool:
    return WEEK_START <= when < WEEK_END


def parse_aware(value: Any, where: str) -> datetime:
    """An ISO 8601 timestamp that must carry its own offset."""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    assert when.tzinfo is not None, f"{where}: date {value!r} has no time zone"
    return when


def split_front_matter(path: Path) -> tuple[dict[str, Any], str]:
    text = path.read_text(encoding="utf-8")
    match = re.match(r"\A---\n(.*?)\n---\n(.*)\Z", text, re.S)
    assert match, f"{path.name}: no YAML front matter between '---' lines"
    meta = yaml.safe_load(match.group(1))
    assert isinstance(meta, dict), f"{path.name}: front matter is not a mapping"
    return meta, match.group(2).strip()


def paragraphs(body: str) -> list[str]:
    return [p for p in re.split(r"\n\s*\n", body) if p.strip()]


def load_clips(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    clips = data if isinstance(data, list) else [data]
    assert all(isinstance(c, dict) for c in clips), f"{path.name}: clips must be mappings"
    return clips


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def feed_entry_times(path: Path) -> list[datetime]:
    parsed = feedparser.parse(str(path))
    times = []
    for entry in parsed.entries:
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        assert stamp is not None, f"{path.name}: entry {entry.get('id')} has no date"
        times.append(datetime.fromtimestamp(calendar.timegm(stamp), tz=UTC))
    return times


def json_feed(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def all_dated_items() -> Iterator[tuple[str, datetime]]:
    """(where, when) for every dated item in every sample source."""
    for path in XML_FEEDS:
        for when in feed_entry_times(path):
            yield path.name, when
    for path in JSON_FEEDS:
        for item in json_feed(path)["items"]:
            yield path.name, parse_aware(item["date_published"], path.name)
    for path in CLIP_YAML:
        for clip in load_clips(path):
            yield path.name, parse_aware(clip["date"], path.name)
    for path in [*CLIP_MARKDOWN, *SPOTLIGHT_MARKDOWN]:
        yield path.name, parse_aware(split_front_matter(path)[0]["date"], path.name)
    for row in read_csv(EXAMPLES / "worker-wins.csv")[1]:
        yield "worker-wins.csv", parse_aware(row["date"], "worker-wins.csv")


# --- feeds -------------------------------------------------------------------------------


def test_the_expected_feeds_exist() -> None:
    state = sorted(p.name for p in (FEEDS / "state-federations").iterdir())
    affiliates = sorted(p.name for p in (FEEDS / "affiliates").iterdir())
    assert len(state) == 8 and len(affiliates) == 8
    assert [p.suffix for p in JSON_FEEDS] == [".json"]
    versions = [feedparser.parse(str(p)).version for p in XML_FEEDS]
    assert versions.count("atom10") == 2
    assert versions.count("rss20") == len(XML_FEEDS) - 2


@pytest.mark.parametrize("path", XML_FEEDS, ids=lambda p: p.name)
def test_xml_feed_parses_cleanly(path: Path) -> None:
    parsed = feedparser.parse(str(path))
    assert not parsed.bozo, f"{path.name}: {parsed.get('bozo_exception')}"
    assert parsed.feed.get("title") and parsed.feed.get("link")
    assert len(parsed.entries) >= 2
    for entry in parsed.entries:
        assert entry.get("id"), f"{path.name}: entry without guid/id"
        assert entry.get("title") and entry.get("summary")
        assert urlsplit(entry.link).hostname.endswith(EXAMPLE_HOSTS)  # type: ignore[union-attr]
    ids = [entry.id for entry in parsed.entries]
    assert len(ids) == len(set(ids)), f"{path.name}: duplicate entry ids"


@pytest.mark.parametrize("path", [*XML_FEEDS, *JSON_FEEDS], ids=lambda p: p.name)
def test_every_feed_has_at_least_two_posts_in_the_week(path: Path) -> None:
    if path.suffix == ".json":
        times = [parse_aware(i["date_published"], path.name) for i in json_feed(path)["items"]]
    else:
        times = feed_entry_times(path)
    assert sum(in_week(t) for t in times) >= 2


def test_json_feed_is_a_valid_json_feed_1_1() -> None:
    (path,) = JSON_FEEDS
    data = json_feed(path)
    assert data["version"] == "https://jsonfeed.org/version/1.1"
    assert data["title"] and data["home_page_url"].startswith("https://")
    assert len(data["items"]) >= 2
    for item in data["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert item.get("content_html") or item.get("content_text")
        assert item["url"].startswith("https://")
        parse_aware(item["date_published"], path.name)


def test_one_entry_carries_markup_for_the_sanitizing_demo() -> None:
    hostile = [
        p
        for p in XML_FEEDS
        if "<script>alert(1)</script>" in (text := p.read_text(encoding="utf-8"))
        and "onclick=" in text
        and 'width="1" height="1"' in text
    ]
    assert len(hostile) == 1
    # feedparser keeps the markup readable (it is in CDATA) without breaking the feed.
    assert not feedparser.parse(str(hostile[0])).bozo


def test_one_affiliate_entry_has_an_image_enclosure_and_thumbnail() -> None:
    with_images = []
    for path in sorted((FEEDS / "affiliates").glob("*.xml")):
        for entry in feedparser.parse(str(path)).entries:
            if entry.get("enclosures") and entry.get("media_thumbnail"):
                with_images.append(entry)
    assert len(with_images) == 1
    (entry,) = with_images
    assert entry.enclosures[0]["type"] == "image/jpeg"
    assert urlsplit(entry.enclosures[0]["href"]).hostname.endswith("example.org")


# --- curated clips and spotlight stories -------------------------------------------------


def test_weekly_list_has_twelve_yaml_clips_and_one_markdown_clip() -> None:
    assert sum(len(load_clips(p)) for p in CLIP_YAML) == 12
    assert len(CLIP_MARKDOWN) == 1


@pytest.mark.parametrize("path", CLIP_YAML, ids=lambda p: p.name)
def test_yaml_clips_have_every_field(path: Path) -> None:
    for clip in load_clips(path):
        missing = [f for f in CLIP_FIELDS if not clip.get(f)]
        assert not missing, f"{path.name}: missing {missing}"
        assert isinstance(clip["tags"], list)
        assert in_week(parse_aware(clip["date"], path.name))
        sentences = SENTENCE_END.findall(clip["excerpt"])
        assert len(sentences) >= 2, f"{path.name}: excerpt needs 2+ sentences"


def test_markdown_clip_has_front_matter_and_a_body() -> None:
    (path,) = CLIP_MARKDOWN
    meta, body = split_front_matter(path)
    missing = [f for f in CLIP_FIELDS if not meta.get(f)]
    assert not missing, f"{path.name}: missing {missing}"
    assert in_week(parse_aware(meta["date"], path.name))
    assert len(paragraphs(body)) >= 2  # the fuller story below the front matter


def test_spotlight_has_six_stories_with_a_quote_each() -> None:
    assert len(SPOTLIGHT_MARKDOWN) == 6
    for path in SPOTLIGHT_MARKDOWN:
        meta, body = split_front_matter(path)
        assert meta.get("title") and meta.get("url"), path.name
        assert "spotlight" in meta["tags"], path.name
        paras = paragraphs(body)
        assert 2 <= len(paras) <= 3, f"{path.name}: {len(paras)} paragraphs"
        assert any(p.lstrip().startswith('"') for p in paras), f"{path.name}: no quote"


def test_spotlight_stories_fall_one_per_day() -> None:
    times = [parse_aware(split_front_matter(p)[0]["date"], p.name) for p in SPOTLIGHT_MARKDOWN]
    days = sorted(t.astimezone(NEW_YORK).date() for t in times)
    assert days == [date(2026, 11, 13), *(date(2026, 11, d) for d in range(16, 21))]


def test_exactly_one_spotlight_story_in_the_daily_window() -> None:
    times = [parse_aware(split_front_matter(p)[0]["date"], p.name) for p in SPOTLIGHT_MARKDOWN]
    assert sum(DAY_START <= t < DAY_END for t in times) == 1


# --- CSV files ----------------------------------------------------------------------------


def test_worker_wins_csv_has_six_wins_and_one_bad_row() -> None:
    header, rows = read_csv(EXAMPLES / "worker-wins.csv")
    assert header == [
        *("title", "url", "excerpt", "outlet", "date", "tags"),
        *("quote", "quote_by", "state"),
    ]
    bad = [i for i, r in enumerate(rows) if not r["title"] and not r["url"]]
    good = [r for r in rows if r["title"] and r["url"]]
    assert len(good) == 6
    assert len(bad) == 1 and bad[0] >= len(rows) - 2  # near the end
    for row in good:
        assert row["tags"] == "worker-wins"
        assert row["quote"] and row["quote_by"] and row["excerpt"] and row["state"]
        assert in_week(parse_aware(row["date"], row["title"]))
    # commas inside fields survived the round trip, so quoting is right
    assert any("," in r["excerpt"] for r in good) and any("," in r["quote"] for r in good)


def test_subscribers_csv_has_one_invalid_and_one_duplicate_address() -> None:
    header, rows = read_csv(EXAMPLES / "subscribers.csv")
    assert header == ["email", "name", "lists"]
    invalid: list[str] = []
    duplicates: list[str] = []
    seen: set[str] = set()
    for row in rows:
        assert set(row["lists"].split(";")) <= {"weekly", "spotlight", "political"}
        try:
            address = normalize_email(row["email"]).casefold()
        except InvalidAddress:
            invalid.append(row["email"])
            continue
        assert address.endswith(("@example.org", "@example.net"))
        if address in seen:
            duplicates.append(address)
        seen.add(address)
    assert invalid == ["not-an-email"]
    assert len(duplicates) == 1
    assert len(seen) == 25
    weekly = sum("weekly" in row["lists"].split(";") for row in rows)
    assert weekly > len(rows) / 2


# --- curated data files --------------------------------------------------------------------


def test_affiliates_file_validates_against_the_model() -> None:
    data = AffiliatesFile.model_validate(
        yaml.safe_load((EXAMPLES / "affiliates.yaml").read_text(encoding="utf-8"))
    )
    assert "{name}" in data.intro
    assert len(data.affiliates) == 5
    assert len({a.key for a in data.affiliates}) == 5
    for affiliate in data.affiliates:
        filled = affiliate.model_dump(exclude={"links"})
        assert all(filled.values()), f"{affiliate.key}: empty profile field"
        assert affiliate.links


def test_political_file_validates_and_is_upcoming() -> None:
    data = PoliticalFile.model_validate(
        yaml.safe_load((EXAMPLES / "political.yaml").read_text(encoding="utf-8"))
    )
    today = WEEK_END.date()
    assert len(data.endorsements) == 8
    assert all(e.election_date and e.election_date > today for e in data.endorsements)
    assert len(data.deadlines) == 5
    assert all(date(2026, 11, 21) <= d.date <= date(2027, 1, 10) for d in data.deadlines)
    assert data.campaign is not None
    assert data.campaign.until == date(2027, 3, 1)


# --- the whole set --------------------------------------------------------------------------


def test_the_week_is_full_and_a_few_items_are_older() -> None:
    items = list(all_dated_items())
    inside = [where for where, when in items if in_week(when)]
    before = [where for where, when in items if when < WEEK_START]
    after = [where for where, when in items if when >= WEEK_END]
    assert len(inside) >= 30
    assert len(before) >= 2  # older items show the window leaves them out
    assert not after
    assert all(when.year == 2026 for _, when in items)


def test_every_url_uses_an_example_domain() -> None:
    url = re.compile(r"https?://[^\s\"'<>)\],]+")
    offenders = []
    for path in EXAMPLES.rglob("*"):
        if path.is_file():
            for found in url.findall(path.read_text(encoding="utf-8")):
                host = urlsplit(found).hostname or ""
                if not host.endswith(EXAMPLE_HOSTS) and found not in _SPEC_URLS:
                    offenders.append(f"{path.relative_to(EXAMPLES)}: {found}")
    assert not offenders


# Namespace and version identifiers that feed formats require; they are never fetched.
_SPEC_URLS = {
    "http://www.w3.org/2005/Atom",
    "http://search.yahoo.com/mrss/",
    "https://jsonfeed.org/version/1.1",
}
