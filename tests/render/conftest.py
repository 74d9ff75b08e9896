"""Sample sections for every format, with fixed dates, written for these tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from digest.models import Edition, Group, Item, Media, Origin, Section, SocialPost

PERIOD_END = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
PERIOD_START = PERIOD_END - timedelta(days=7)


def at(day: int, hour: int = 15) -> datetime:
    return datetime(2026, 11, day, hour, 30, tzinfo=UTC)


def item(title: str, url: str, origin: Origin, **fields: object) -> Item:
    fields.setdefault("published_at", at(18))
    return Item(
        source_id=fields.pop("source_id", "sample"),  # type: ignore[arg-type]
        guid=url,
        url=url,
        title=title,
        origin=origin,
        **fields,  # type: ignore[arg-type]
    )


def post(platform: str, handle: str, name: str, text: str, slug: str) -> SocialPost:
    base = "https://bsky.app/profile" if platform == "bluesky" else "https://x.com"
    path = f"{handle}/post/{slug}" if platform == "bluesky" else f"{handle}/status/{slug}"
    return SocialPost(
        platform=platform,
        post_url=f"{base}/{path}",
        author_handle=handle,
        author_name=name,
        avatar_url=f"https://cdn.example.net/avatars/{slug}.jpg",
        text=text,
    )


OUTLET_LEDGER = Origin("The Harbor City Ledger", "news_outlet", url="https://ledger.example.com")
OUTLET_PRESS = Origin("Valley Public Radio", "news_outlet", url="https://vpr.example.org")


def weekly_list() -> Section:
    return Section(
        format_id="weekly_list",
        title="Working People Weekly List",
        intro="The stories about working people that caught our eye this week.",
        template="weekly_list",
        items=[
            item(
                "Bus drivers in Harbor City vote to authorize a strike",
                "https://ledger.example.com/2026/11/bus-drivers-strike-vote",
                OUTLET_LEDGER,
                summary=(
                    "<p>Ninety-four percent of the transit local's members backed the "
                    "authorization after eight months of talks over split shifts and "
                    "<em>restroom access</em> on long routes.</p>"
                ),
            ),
            item(
                "Nurses at Valley General win safe staffing ratios",
                "https://vpr.example.org/news/valley-general-staffing",
                OUTLET_PRESS,
                summary="<p>The new contract caps medical-surgical units at five patients "
                "per nurse & adds a float pool.</p>",
            ),
            item(
                "Apprenticeship program doubles its first-year class",
                "https://ledger.example.com/2026/11/apprentices",
                OUTLET_LEDGER,
            ),
        ],
    )


def grouped(template: str, title: str, intro: str, groups: list[Group]) -> Section:
    return Section(format_id=template, title=title, intro=intro, template=template, groups=groups)


def in_the_states() -> Section:
    lakeland = Origin(
        "Lakeland State AFL-CIO", "state_federation", "LK", "https://lakeland.example.org"
    )
    prairie = Origin("Prairie State Labor Federation", "state_federation", "PR")
    return grouped(
        "in_the_states",
        "In the States",
        "What state federations shared this week.",
        [
            Group(
                "Lakeland State AFL-CIO",
                [
                    item(
                        "Lakeland post",
                        "https://bsky.app/profile/lakelandlabor.example/post/3kx1",
                        lakeland,
                        post=post(
                            "bluesky",
                            "lakelandlabor.example",
                            "Lakeland State AFL-CIO",
                            "Packed hearing room today for the paid leave bill. Thank you to "
                            "every member who testified! https://lakeland.example.org/paid-leave",
                            "3kx1",
                        ),
                        media=(
                            Media(
                                "https://cdn.example.net/img/hearing.jpg",
                                "Union members in red shirts fill a hearing room",
                            ),
                        ),
                    )
                ],
                "https://lakeland.example.org",
            ),
            Group(
                "Prairie State Labor Federation",
                [
                    item(
                        "Prairie post",
                        "https://x.com/prairielabor/status/1860000000000000001",
                        prairie,
                        published_at=at(19, 18),
                        post=post(
                            "x",
                            "prairielabor",
                            "Prairie Labor Fed",
                            "Canvass kickoff Saturday at 10 in Eastfield. Bring water.",
                            "1860000000000000001",
                        ),
                    )
                ],
            ),
        ],
    )


def affiliates_doing() -> Section:
    teachers = Origin("United Teachers Alliance", "affiliate")
    builders = Origin("Building Trades Council", "affiliate")
    return grouped(
        "affiliates_doing",
        "What Working People Are Doing This Week",
        "",
        [
            Group(
                "Building Trades Council",
                [
                    item(
                        "BTC post",
                        "https://bsky.app/profile/btc.example/post/9zz",
                        builders,
                        post=SocialPost(
                            platform="bluesky",
                            post_url="https://bsky.app/profile/btc.example/post/9zz",
                            author_handle="btc.example",
                            author_name="",
                            text="Topping out ceremony on the new library. Union built, on time.",
                            created_at="2026-11-17T14:05:00+00:00",
                            images=[
                                {
                                    "url": f"https://cdn.example.net/img/beam{n}.jpg",
                                    "thumb": f"https://cdn.example.net/img/beam{n}_t.jpg",
                                    "alt": alt,
                                }
                                for n, alt in (
                                    (1, "The last steel beam, signed by the crew"),
                                    (2, "Ironworkers on the roof"),
                                    (3, "The crane lifting the beam"),
                                )
                            ],
                            quote=SocialPost(
                                platform="bluesky",
                                post_url="https://bsky.app/profile/citylib.example/post/1qq",
                                author_handle="citylib.example",
                                author_name="City Library",
                                text="Our new home is taking shape! #libraries",
                                created_at="2026-11-16T18:00:00+00:00",
                                facets=[
                                    {"start": 30, "end": 40, "kind": "tag", "value": "libraries"}
                                ],
                            ).to_dict(),
                        ),
                    )
                ],
            ),
            Group(
                "United Teachers Alliance",
                [
                    item(
                        "UTA post",
                        "https://bsky.app/profile/uta.example/post/7aa",
                        teachers,
                        post=replace(
                            post(
                                "bluesky",
                                "uta.example",
                                "United Teachers Alliance",
                                "Smaller classes are coming to 40 schools next fall. Thanks "
                                "@nea.example! #RedForEd uta.example.org/classes…",
                                "7aa",
                            ),
                            created_at="2026-11-18T20:45:00+00:00",
                            facets=[
                                {"start": 59, "end": 71, "kind": "mention", "value": "did:plc:nea"},
                                {"start": 73, "end": 82, "kind": "tag", "value": "RedForEd"},
                                {
                                    "start": 83,
                                    "end": 109,
                                    "kind": "link",
                                    "value": "https://uta.example.org/classes/2027?src=bsky",
                                },
                            ],
                            external={
                                "uri": "https://uta.example.org/classes/2027",
                                "title": "Smaller classes in 40 schools",
                                "description": "What the new contract means for students.",
                                "thumb": "https://cdn.example.net/img/classes.jpg",
                            },
                        ),
                    ),
                    item(
                        "Read our bargaining update",
                        "https://uta.example.org/bargaining-update",
                        teachers,
                        summary="<p>Where the table stands after the third session.</p>",
                    ),
                ],
            ),
        ],
    )


def worker_wins() -> Section:
    return Section(
        format_id="worker_wins",
        title="Worker Wins",
        intro="Working people organizing, bargaining and winning.",
        template="worker_wins",
        items=[
            item(
                "Museum guards ratify first contract",
                "https://news.example.org/museum-guards",
                Origin("Cultural Workers Union Local 12", "affiliate"),
                summary="<p>Security officers at the Riverside Museum of Art secured raises "
                "of 18% over three years and guaranteed breaks.</p>",
                extra={
                    "quote": "We guard priceless art; now our time is valued too.",
                    "quote_by": "Dana Ortiz, museum security officer",
                },
            ),
            item(
                "Warehouse workers win heat protections",
                "https://news.example.org/warehouse-heat",
                Origin("Logistics Workers United", "affiliate"),
                summary="<p>Cooling stations and paid rest when the floor tops 85°F.</p>",
                extra={"quote": "Nobody should pass out to make a quota."},
            ),
        ],
    )


def spotlight() -> Section:
    return Section(
        format_id="spotlight",
        title="Service & Solidarity Spotlight",
        intro="",
        template="spotlight",
        items=[
            item(
                "Ironworkers rebuild a playground in a weekend",
                "https://news.example.org/ironworkers-playground",
                Origin("Ironworkers Local 40", "affiliate"),
                author="Sam Whitfield",
                body="<p>Thirty volunteers from the local spent Saturday and Sunday replacing "
                "rusted equipment at Elm Street Park.</p><p>Apprentices worked next to "
                "retirees, and the neighborhood brought lunch.</p>",
                media=(
                    Media(
                        "https://cdn.example.net/img/playground.jpg",
                        "Ironworkers lift a new slide into place",
                    ),
                ),
            )
        ],
    )


def affiliate_profile() -> Section:
    return Section(
        format_id="affiliate_profile",
        title="Get to Know Our Affiliates",
        intro="Each week we introduce one of our affiliated unions.",
        template="affiliate_profile",
        data={
            "key": "ftw",
            "name": "Food and Transit Workers Union",
            "short_name": "FTWU",
            "intro": "<p>FTWU represents cooks, cashiers, drivers and mechanics.</p>",
            "fields": [
                {"label": "Members", "value": "62,000"},
                {"label": "Founded", "value": "1938"},
                {"label": "President", "value": "Lorraine Baptiste"},
                {"label": "Headquarters", "value": ""},
            ],
            "links": [
                {"label": "Website", "url": "https://ftwu.example.org"},
                {"label": "Bluesky", "url": "https://bsky.app/profile/ftwu.example"},
            ],
        },
    )


def political_action() -> Section:
    return Section(
        format_id="political_action",
        title="Political Action",
        intro="Endorsements, deadlines and the bill we are pushing this month.",
        template="political_action",
        data={
            "endorsements_by_state": [
                {
                    "state": "Lakeland",
                    "entries": [
                        {
                            "office": "Governor",
                            "candidate": "Maria Reyes",
                            "party": "D",
                            "url": "https://lakeland.example.org/endorse/reyes",
                        },
                        {
                            "office": "State Senate, District 9",
                            "candidate": "Tom Akers",
                            "party": None,
                            "url": None,
                        },
                    ],
                },
                {
                    "state": "Prairie",
                    "entries": [{"office": "Mayor of Eastfield", "candidate": "June Park"}],
                },
            ],
            "deadlines": [
                {
                    "state": "Lakeland",
                    "label": "Register online",
                    "date": "2026-12-04",
                    "url": "https://vote.lakeland.example.gov",
                },
                {"state": "Prairie", "label": "Mail-in registration", "date": "2026-12-11"},
            ],
            "campaign": {
                "title": "Pass the Freedom to Organize Act",
                "summary": "<p>Tell your senators that workers deserve a fair path to a union.</p>",
                "cta_label": "Email your senators",
                "cta_url": "https://action.example.org/organize-act",
            },
        },
    )


SECTION_BUILDERS: dict[str, Callable[[], Section]] = {
    "weekly_list": weekly_list,
    "in_the_states": in_the_states,
    "affiliates_doing": affiliates_doing,
    "worker_wins": worker_wins,
    "spotlight": spotlight,
    "affiliate_profile": affiliate_profile,
    "political_action": political_action,
}


def edition_of(sections: list[Section], title: str = "Weekly") -> Edition:
    return Edition(
        newsletter="weekly",
        title=title,
        subject=f"{title}: November 20, 2026",
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        sections=sections,
    )


@pytest.fixture
def make_edition() -> Callable[..., Edition]:
    return edition_of


@pytest.fixture
def full_edition() -> Edition:
    return edition_of([build() for build in SECTION_BUILDERS.values()])


@pytest.fixture
def section_builders() -> dict[str, Callable[[], Section]]:
    return SECTION_BUILDERS
