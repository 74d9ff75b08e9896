"""The real-world feed fixtures (tests/sources/fixtures/realworld/), what each should
store, and a helper that renders stored items as an email.

Each fixture is written for this project, modelled on what the publisher's software
emits (WordPress, FeedBurner, Drupal, Substack, Ghost, Medium, Blogger, GitHub, YouTube,
JSON Feed, Bluesky, Mastodon, podcasts, Tumblr...), not copied from a real feed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.config import Settings
from digest.models import Edition, Item, Section
from digest.render import Renderer

REALWORLD = Path(__file__).parent / "fixtures" / "realworld"
FIRST_SEEN = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)  # the frozen clock: the collect's time
RSS, ATOM, JSON = "application/rss+xml", "application/atom+xml", "application/feed+json"


def utc(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


@dataclass(frozen=True)
class Expect:
    """What one stored item must hold. ``excerpt`` is the start of the summary's text,
    ``image`` the lead image ("" for none)."""

    title: str
    url: str
    date: datetime
    excerpt: str
    image: str = ""
    body_has: tuple[str, ...] = ()
    body_lacks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    fixture: str
    served_as: str  # the Content-Type the local server sends
    items: tuple[Expect, ...]
    skipped: dict[str, int] = field(default_factory=dict)
    warning: str = ""  # a warning the collect must give about this feed


CASES = (
    Case(
        "wordpress.xml",
        "text/xml",  # no charset: the XML declaration decides
        (
            Expect(
                "Apprentices break ground on the new training center",
                "https://riversidetrades.example.org/2026/11/19/apprentices-break-ground/",
                utc(19, 14),
                "More than sixty apprentices from eleven crafts turned the first shovels",
                "https://riversidetrades.example.org/wp-content/uploads/2026/11/groundbreaking.jpg",
                body_has=('href="https://riversidetrades.example.org/apprenticeship/"',),
                body_lacks=("appeared first on", "Share this", "share=", "groundbreaking.jpg"),
            ),
        ),
        skipped={"too old": 1},
    ),
    Case(
        "feedburner.xml",
        RSS,
        (
            Expect(
                "Bargaining update: class size language on the table",
                "https://harborteachers.example.org/2026/11/17/bargaining-update-class-size/",
                utc(17, 22, 15),
                "Our bargaining team presented a class size proposal on Monday.",
                body_has=('href="https://harborteachers.example.org/bargaining/proposal-7/"',),
                body_lacks=("feedburner", "doubleclick", "feedproxy", "utm_"),
            ),
        ),
    ),
    Case(
        "drupal.xml",
        "application/rss+xml; charset=utf-8",
        (
            Expect(
                "Home care workers rally at the county building",
                "https://homecare.example.org/news/home-care-workers-rally",
                utc(18, 20, 12, 44),
                "Hundreds of home care workers filled the county building on Tuesday",
                "https://homecare.example.org/sites/default/files/2026-11/rally.jpg",
                # relative links resolve against the channel's xml:base
                body_has=('href="https://homecare.example.org/node/790"',),
                body_lacks=("facebook.com/sharer", "intent/tweet", "_paq", "<span>Home care"),
            ),
        ),
    ),
    Case(
        "substack.xml",
        RSS,
        (
            Expect(
                "What a card check campaign looks like from the inside",
                "https://shopfloor.example.com/p/card-check-inside",
                utc(18, 13, 0, 31),
                "Six weeks, 212 signatures and one very long night at the labor board.",
                "https://substack-post-media.example.com/public/images/4f1c2a.jpeg",
                body_has=("they had eleven names and a group chat",),
                body_lacks=("Subscribe", "<input", "action=share", "4f1c2a.jpeg"),
            ),
        ),
    ),
    Case(
        "ghost.xml",
        RSS,
        (
            Expect(
                "Port workers' new contract, clause by clause",
                "https://lakeshorelabor.example.com/port-contract-clause-by-clause/",
                utc(19, 9, 40),
                "The longshore contract ratified last week changes automation rules",
                "https://lakeshorelabor.example.com/content/images/2026/11/port-cranes.jpg",
                body_has=("vote-count.jpg", "<code>Article 14.2(b)"),
                body_lacks=("port-cranes.jpg", 'width="2000"', "srcset"),
            ),
        ),
    ),
    Case(
        "medium.xml",
        RSS,
        (
            Expect(
                "Why we are asking for safe staffing, in our own words",
                "https://medium.com/@nurses1199r/why-we-are-asking-for-safe-staffing-8c1d2e3f4a5b",
                utc(18, 18, 21, 47),
                "Twelve patients. That is how many one of us had on a night shift last month.",
                "https://cdn-images-1.medium.example.com/max/1024/1*Nf3kQ.jpeg",
                body_has=('href="https://medium.com/@nurses1199r/our-proposal-2b3c4d5e6f7a"',),
                body_lacks=("_/stat", "source=", "Photo by a member"),
            ),
        ),
    ),
    Case(
        "blogger.xml",
        ATOM,
        (
            Expect(
                "Retirees pack the pension board meeting",
                "https://valleyretirees.example.blogspot.com/2026/11/retirees-pack-pension-board.html",
                datetime(2026, 11, 17, 17, 12, 0, 3000, tzinfo=UTC),
                "Forty retirees came to Thursday's pension board meeting",
                # the 72 px s72-c thumbnail is not a lead image; the post's picture is
                "https://blogger.googleusercontent.example.com/img/b/R29vZ2xl/AVvXsEh/w640-h360/board.jpg",
                body_lacks=("<img", "s1600/board.jpg"),
            ),
        ),
    ),
    Case(
        "github.xml",
        ATOM,
        (
            Expect(
                "v2.3.0: shift swaps between locals",
                "https://github.com/laborcoop/shiftboard/releases/tag/v2.3.0",
                utc(16, 18, 4, 11),
                "Stewards can now approve shift swaps between members of different locals.",
                body_has=(
                    "<code>docker compose pull",
                    'href="https://github.com/laborcoop/shiftboard/blob/main/CHANGELOG.md"',
                ),
            ),
        ),
    ),
    Case(
        "youtube.xml",
        ATOM,
        (
            Expect(
                "Why we're on strike: voices from the picket line",
                "https://www.youtube.com/watch?v=Qw3rTy7uIoP",
                utc(18, 23, 0, 6),
                "Members of Local 7 explain why they walked out after 14 months",
                "https://i3.ytimg.com/vi/Qw3rTy7uIoP/hqdefault.jpg",
                body_has=("Filmed on the line at the Eastside mill.",),
                body_lacks=("youtube.com/v/", "utm_source"),
            ),
        ),
    ),
    Case(
        "jsonfeed-1.0.json",
        JSON,
        (
            Expect(
                "City reaches transit funding deal after union pressure",
                # a link post: the story is the external_url, not the blog's page
                "https://citynews.example.com/2026/11/17/transit-funding-deal",
                utc(17, 20, 20),
                "Transit workers packed three council hearings before the deal.",
                body_lacks=("count.php", "<img"),
            ),
        ),
    ),
    Case(
        "jsonfeed-1.1.json",
        "application/json",
        (
            Expect(
                "Day three of the Ridgeway store picket.",
                "https://micro.grocery400.example.org/2026/11/18/152301.html",
                utc(18, 20, 23, 1),
                "Day three of the Ridgeway store picket. Customers are honking",
                "https://micro.grocery400.example.org/uploads/2026/picket.jpg",
            ),
            Expect(
                "Tentative agreement reached at Ridgeway",
                "https://micro.grocery400.example.org/2026/11/19/contract.html",
                utc(19, 21, 5),
                "The deal raises starting pay to $19 and restores weekend premiums.",
            ),
        ),
    ),
    Case(
        "bluesky.xml",
        RSS,
        (
            Expect(
                "Big turnout at the capitol today for the paid leave bill.",
                "https://bsky.app/profile/stateafl.example.org/post/3lb2xk7qz4c2s",
                utc(18, 19, 42),
                "Big turnout at the capitol today for the paid leave bill. Thank you",
            ),
            Expect(
                "A post from bluesky.xml",  # only a link in it: never the URL as headline
                "https://bsky.app/profile/stateafl.example.org/post/3lb2w9hd2pk2a",
                utc(18, 15, 5),
                "https://stateafl.example.org/2026/11/paid-leave-testimony",
            ),
        ),
    ),
    Case(
        "mastodon.xml",
        RSS,
        (
            Expect(
                "Our members at the Gazette print shop voted 31–2 to ratify their first contract!",
                "https://union.example.social/@local16/113512345678901234",
                utc(19, 16, 2, 33),
                "Our members at the Gazette print shop voted 31–2",
                "https://files.union.example.social/media_attachments/files/113/512/345/original/vote.jpg",
                body_has=('href="https://local16.example.org/gazette-contract"',),
            ),
        ),
    ),
    Case(
        "podcast.xml",
        RSS,
        (
            Expect(
                "Episode 88: Organizing the warehouse night shift",
                "https://solidarityhour.example.org/episodes/88",
                utc(16, 15),
                "Two organizers from the Eastgate distribution center talk about",
                "https://solidarityhour.example.org/art/ep088.jpg",
            ),
        ),
    ),
    Case(
        "tumblr.xml",
        RSS,
        (
            Expect(
                "Bread & Roses: new posters for the strike fund",  # escaped twice in the feed
                "https://printguild.example.tumblr.com/post/7311223344/bread-roses-posters",
                utc(17, 16, 34, 2),
                "Screenprinted by members, sold at cost",
            ),
            Expect(
                "The picket line banner, finished at 2 a.m.",  # Tumblr's title was "Photo"
                "https://printguild.example.tumblr.com/post/7311220000",
                utc(17, 3, 10, 45),
                "The picket line banner, finished at 2 a.m.",
                "https://64.media.tumblr.example.com/9a8b7c/tumblr_q1w2e3_1280.jpg",
                body_lacks=("<img", "<br>"),
            ),
            Expect(
                "A hand-lettered sign reading ON STRIKE",  # no title, no words: the alt text
                "https://printguild.example.tumblr.com/post/7311210000",
                utc(16, 14),
                "",
                "https://64.media.tumblr.example.com/1f2e3d/tumblr_x9y8z7_1280.jpg",
            ),
        ),
    ),
    Case(
        "cdata.xml",
        RSS,
        (
            Expect(
                "Wages & benefits: the new agreement",
                "https://carpenters.example.org/news/new-agreement?id=77&ref=home",
                utc(18, 18),
                "The 2026–2030 agreement raises the journeyman rate by $2.10 & adds",
                body_has=(
                    "<strong>2026–2030</strong>",
                    'href="mailto:info@carpenters.example.org"',
                ),
            ),
        ),
    ),
    Case(
        "gb2312.xml",
        "text/xml",
        (
            Expect(
                "餐馆工人赢得加薪",
                "https://chineselabor.example.org/news/2026/11/raise.html",
                utc(17, 0),
                "唐人街十二家餐馆的工人",
            ),
        ),
    ),
    Case(
        "latin1.xml",
        "text/html",  # a server that calls every file HTML
        (
            Expect(
                "Campaña de cosecha: ¡más de 300 firmas en Año Nuevo!",
                "https://campesinos.example.org/noticias/campana-cosecha",
                datetime(2026, 11, 19, 1, 45, tzinfo=UTC),
                "Los trabajadores de la cosecha en el valle reunieron más de 300 firmas",
            ),
        ),
    ),
    Case(
        "wrong-encoding.xml",
        "text/xml",
        (
            Expect(
                "“We built this city” – the bridge crew’s story",
                "https://ironworkers12.example.org/news/bridge-crew",
                utc(13, 21),
                "The bridge crew topped out the new span on Friday – six weeks early",
            ),
        ),
        warning="declared as utf-8, but parsed as windows-1252",
    ),
    Case(
        "rss10.rdf",
        "application/rdf+xml",
        (
            Expect(
                "Food drive collects 12 tons",
                "https://letter-carriers.example.org/2026/11/food-drive.html",
                utc(16, 20),
                "Carriers picked up 12 tons of food on their routes",
            ),
        ),
    ),
    Case(
        "undated.xml",
        RSS,
        (
            Expect(
                "About Local 88",
                "https://firefighters88.example.org/about",
                FIRST_SEEN,
                "Local 88 represents 640 firefighters and paramedics in the county.",
            ),
            Expect(
                "Contact the union hall",
                "https://firefighters88.example.org/contact",
                FIRST_SEEN,
                "The hall is open weekdays from 9 to 5.",
            ),
        ),
        skipped={"no date": 2},
    ),
    Case(
        "iso-nocolon.xml",
        ATOM,
        (
            Expect(
                "Local 20 graduates its largest apprentice class",
                "https://sheetmetal20.example.org/news/graduation",
                utc(18, 15, 30),  # 10:30-0500
                "Thirty-eight apprentices graduated on Tuesday.",
            ),
        ),
    ),
    Case(
        "bogus-prolog.xml",
        "text/xml; charset=utf-8",
        (
            Expect(
                "Painters win prevailing wage on school projects",
                "https://painters5.example.org/news/prevailing-wage",
                utc(19, 16, 15),
                "The school board voted 5–2 to require prevailing wages",
            ),
        ),
        warning="text before the XML declaration ignored",
    ),
    Case(
        "truncated.xml",
        RSS,
        (
            Expect(
                "Bakers ratify a three-year agreement",
                "https://bakers3.example.org/news/ratified",
                utc(15, 20),
                "Members ratified the agreement by a wide margin on Sunday.",
            ),
        ),
        skipped={"incomplete": 1},
        warning="is not well-formed",
    ),
    Case(
        "ill-formed.xml",
        RSS,
        (
            Expect(
                "Housekeepers win panic buttons & fair workloads",
                "https://hotelworkers2.example.org/news/panic-buttons?lang=en&page=1",
                utc(18, 2, 30),
                "After a two-day strike, housekeepers at the Grand won panic buttons",
            ),
        ),
        warning="is not well-formed",
    ),
    Case(
        "forum-dates.xml",
        RSS,
        (
            Expect(
                "Grievance template for schedule changes",
                "https://forum.stewards.example.org/topic/4411",
                FIRST_SEEN,  # '2020/1/10'-style: reported, never guessed
                "Here is the template our local uses",
            ),
        ),
        skipped={"no date": 1},
        warning="'2026/11/10 14:33:00' is neither an RFC 822 nor an ISO 8601 date",
    ),
    Case(
        "own-blog-series.xml",
        RSS,
        (
            Expect(
                "Service & Solidarity Spotlight: Nurses Run a Winter Coat Drive",
                "https://federation.example.org/blog/spotlight-coat-drive",
                utc(19, 15),
                "Working people across the United States regularly step up",
            ),
            Expect(
                "Worker Wins: Transit Mechanics Secure Heat Protections",
                "https://federation.example.org/blog/worker-wins-heat",
                utc(18, 15),
                "Transit mechanics won shade, water and rest breaks above 90 degrees.",
            ),
            Expect(
                "Statement on the state budget",
                "https://federation.example.org/blog/budget-statement",
                utc(17, 15),
                "The budget protects public services.",
            ),
        ),
    ),
)

# What must never reach a subscriber's email from these feeds.
TRACKERS = (
    "feeds.feedburner.com/~r/",
    "feeds.feedburner.com/~ff/",
    "feedproxy.google.com",
    "doubleclick",
    "pixel.wp.com",
    "medium.com/_/stat",
    "count.php",
    "utm_",
    "source=rss",
    "source=post_page",
    "youtube.com/v/",
    "sharer",
    "intent/tweet",
    "shareArticle",
    "javascript:",
)


def sections_for(items: list[Item]) -> list[Section]:
    """A list section with every item and a spotlight of the first: the two ways the
    email shows feed items (excerpt, and the whole story with its lead image)."""
    return [
        Section("weekly_list", "Weekly List", "", "weekly_list", items=list(items)),
        Section("spotlight", "Spotlight", "", "spotlight", items=list(items[:1])),
    ]


def render(settings: Settings, items: list[Item]) -> tuple[str, str]:
    end = FIRST_SEEN
    edition = Edition(
        newsletter="weekly",
        title="Weekly",
        subject="Weekly: November 20, 2026",
        period_start=end - timedelta(days=7),
        period_end=end,
        sections=sections_for(items),
    )
    rendered = Renderer(settings).email(edition)
    return rendered.html, rendered.text
