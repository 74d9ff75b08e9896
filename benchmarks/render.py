"""A report of the render time: Renderer.email (Jinja → MJML → HTML → checks) for a
~100-item demo edition, beside a bare mjml-python compile of the same MJML.

    .venv/bin/python benchmarks/render.py [N [ROUNDS]]

No goal: an edition is rendered once per send (each copy is filled in by substitution),
so these milliseconds are not something a user waits for. Last line: render_ms=.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mjml

from digest.config import Settings, validate_config
from digest.models import Edition, Group, Item, Media, Origin, Section, SocialPost
from digest.render import Renderer

END = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
STATES = ["Coastal", "Highland", "Lakeland", "Prairie", "Ridge", "River", "Summit", "Valley"]
AFFILIATES = ["Bakers", "Carpenters", "Electricians", "Nurses", "Painters", "Stagehands"]
TOPICS = ["contract vote", "safety win", "picket line", "town hall", "new members", "rally"]


def settings(tmp: Path) -> Settings:
    (tmp / "f.xml").write_text("<rss version='2.0'><channel><title>t</title></channel></rss>")
    return validate_config(
        {
            "organization": {
                "name": "Demo Federation of Labor",
                "postal_address": "815 Union Ave, Harbor City, HC 10001",
                "site_url": "https://news.demo-labor.example",
                "sender": {"name": "Demo Federation", "email": "news@demo-labor.example"},
            },
            "output_dir": str(tmp / "out"),
            "sources": {
                "blog": {"type": "feed", "path": str(tmp / "f.xml"), "origin": {"name": "Blog"}}
            },
            "formats": {
                "weekly_list": {"strategy": "list", "title": "List", "template": "weekly_list"}
            },
            "newsletters": {
                "weekly": {
                    "title": "Working People Weekly",
                    "schedule": "fri 16:00",
                    "timezone": "America/New_York",
                    "formats": ["weekly_list"],
                }
            },
        },
        base_dir=tmp,
    )


def news(n: int, origin: Origin) -> Item:
    topic = TOPICS[n % len(TOPICS)]
    return Item(
        source_id="demo",
        guid=f"n{n}",
        url=f"https://news.example.com/{n}-{topic.replace(' ', '-')}",
        title=f"Workers report progress on a {topic} in story {n}",
        origin=origin,
        published_at=END - timedelta(hours=n),
        # no help from per-render memoizing: see summary()
        summary=summary(n, topic),
        extra={"quote": "We stood together and it worked.", "quote_by": "A shop steward"},
    )


def summary(n: int, topic: str) -> str:
    """Every summary distinct, in the proportions of the demo's stored items: about half
    one bare paragraph, a quarter plain text, a quarter with inline markup (and some a
    link), typographic quotes and dashes as editors type them."""
    day = n % 28 + 1
    if n % 4 in (0, 1):
        return (
            f"<p>Members of Local {100 + n} described the {topic} and what comes next, "
            f"including the bargaining calendar and the meeting on day {day}.</p>"
        )
    if n % 4 == 2:
        return f"Organizers said the {topic} drew members from across the region on day {day}."
    link = (
        f' — <a href="https://news.example.com/{n}/report">read the report</a>'
        if n % 8 == 3
        else ""
    )
    return (
        f"<p>It’s official: <strong>Local {100 + n}</strong> reports the {topic} went "
        f"ahead on day {day}{link}.</p>"
    )


def social(n: int, origin: Origin) -> Item:
    handle = origin.name.lower().replace(" ", "") + ".example"
    return Item(
        source_id="bsky",
        guid=f"p{n}",
        url=f"https://bsky.app/profile/{handle}/post/{n}",
        title=origin.name,
        origin=origin,
        published_at=END - timedelta(hours=n),
        media=(Media(f"https://cdn.example.net/{n}.jpg", "Members at the event"),)
        if n % 3 == 0
        else (),
        post=SocialPost(
            platform="bluesky" if n % 4 else "x",
            post_url=f"https://bsky.app/profile/{handle}/post/{n}",
            author_handle=handle,
            author_name=origin.name,
            avatar_url=f"https://cdn.example.net/av/{n}.jpg",
            text=f"Great turnout for the {TOPICS[n % 6]} today! https://example.org/e/{n}",
        ),
    )


def groups(names: list[str], kind: str, start: int, per: int) -> list[Group]:
    out = []
    for i, name in enumerate(names):
        origin = Origin(name, kind)
        out.append(Group(name, [social(start + i * per + j, origin) for j in range(per)]))
    return out


def demo_edition() -> Edition:
    outlet = Origin("Harbor City Ledger", "news_outlet")
    sections = [
        Section(
            "weekly_list",
            "Working People Weekly List",
            "This week's stories.",
            "weekly_list",
            items=[news(n, outlet) for n in range(30)],
        ),
        Section(
            "in_the_states",
            "In the States",
            "",
            "in_the_states",
            groups=groups([f"{s} AFL-CIO" for s in STATES], "state_federation", 100, 3),
        ),
        Section(
            "affiliates_doing",
            "What Working People Are Doing",
            "",
            "affiliates_doing",
            groups=groups(AFFILIATES, "affiliate", 200, 3),
        ),
        Section(
            "worker_wins",
            "Worker Wins",
            "",
            "worker_wins",
            items=[news(n, Origin("Local 7", "affiliate")) for n in range(300, 318)],
        ),
        Section("spotlight", "Spotlight", "", "spotlight", items=[news(400, outlet)]),
        Section(
            "affiliate_profile",
            "Get to Know Our Affiliates",
            "",
            "affiliate_profile",
            data={
                "name": "Bakers Union",
                "fields": [{"label": "Members", "value": "9,000"}],
                "links": [{"label": "Website", "url": "https://bakers.example.org"}],
            },
        ),
        Section(
            "political_action",
            "Political Action",
            "",
            "political_action",
            data={
                "endorsements_by_state": [
                    {"state": s, "entries": [{"office": "Governor", "candidate": f"Candidate {s}"}]}
                    for s in STATES
                ],
                "deadlines": [
                    {"state": s, "label": "Register", "date": "2026-12-01"} for s in STATES
                ],
                "campaign": {
                    "title": "Pass the bill",
                    "summary": "<p>Call now.</p>",
                    "cta_label": "Call",
                    "cta_url": "https://act.example.org",
                },
            },
        ),
    ]
    return Edition(
        "weekly", "Working People Weekly", "Weekly: Nov 20", END - timedelta(days=7), END, sections
    )


def best_per_call_ms(
    calls: dict[str, Callable[[], object]], n: int, rounds: int
) -> dict[str, float]:
    """Per call, the best batch of n calls for each; batches of the two alternate.

    The machine is shared and its speed drifts over seconds: measuring one side after
    the other can swing the ratio by half. Alternating batches gives both sides the same
    conditions, and the minimum over many rounds is the signal.
    """
    for call in calls.values():
        call()  # warm up (template compile, caches)
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            for _ in range(n):
                call()
            best[name] = min(best[name], (time.perf_counter() - start) * 1000 / n)
    return best


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    with tempfile.TemporaryDirectory() as tmp:
        renderer = Renderer(settings(Path(tmp)))
        edition = demo_edition()
        rendered = renderer.email(edition)
        source = rendered.mjml
        best = best_per_call_ms(
            {
                "edition": lambda: renderer.email(edition),
                "bare": lambda: mjml.mjml2html(source, disable_comments=True, fonts={}),
            },
            n,
            rounds,
        )
    edition_ms, bare_ms = best["edition"], best["bare"]
    print(
        f"items={edition.item_count} sections={len(edition.sections)} "
        f"batches of {n} calls, best of {rounds} alternating rounds"
    )
    print(f"html_bytes={rendered.html_bytes} text_bytes={len(rendered.text.encode())}")
    print(f"edition_ms={edition_ms:.2f} (Renderer.email: jinja + text + mjml + checks)")
    print(f"bare_mjml_ms={bare_ms:.2f} (mjml2html of the same MJML)")
    print(f"mjml_share={bare_ms / edition_ms:.2f} (of the render time, for context)")
    print(f"render_ms={edition_ms:.2f}")


if __name__ == "__main__":
    main()
