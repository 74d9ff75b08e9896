"""Golden files: the exact Bluesky and X posts ``compose`` gives for each format.

The editions are the render tests' sample sections (imported, not copied), dated by
their fixed period end; ``compose`` reads no clock, so the output only changes when the
templates or the composer do. Refresh on purpose only, then review the diff:

    .venv/bin/pytest tests/social/test_golden.py --update-golden
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.render.conftest import SECTION_BUILDERS, edition_of

from digest.config import Settings
from digest.models import Post
from digest.render.templates import default_templates_dir
from digest.social import compose

GOLDEN = Path(__file__).parent / "golden"
PLATFORMS = ("bluesky", "x")


def social_formats(platform: str) -> list[str]:
    """Every format that has a social template on ``platform``."""
    folder = default_templates_dir() / "social" / platform
    return sorted(fmt for fmt in SECTION_BUILDERS if (folder / f"{fmt}.txt.j2").exists())


CASES = [(platform, fmt) for platform in PLATFORMS for fmt in social_formats(platform)]


def as_text(posts: list[Post]) -> str:
    """The thread as a reader sees it, one part after another."""
    return "".join(f"--- part {p.part} ---\n{p.text}\n" for p in posts)


def as_json(posts: list[Post]) -> str:
    return json.dumps([p.to_dict() for p in posts], ensure_ascii=False, indent=2) + "\n"


def compare(request: pytest.FixtureRequest, name: str, actual: str) -> None:
    path = GOLDEN / name
    if request.config.getoption("--update-golden"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path} missing: run pytest tests/social/test_golden.py --update-golden"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from golden (refresh with --update-golden)"


def test_every_social_template_has_a_golden_case() -> None:
    # a new social template without a sample section would silently go untested
    for platform in PLATFORMS:
        folder = default_templates_dir() / "social" / platform
        templates = {p.name.removesuffix(".txt.j2") for p in folder.glob("*.txt.j2")}
        assert templates - {"edition", "section"} == set(social_formats(platform))


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """The weekly newsletter posted as a thread (one reply per section)."""
    return make_settings(
        newsletters={
            "weekly": {
                "title": "Weekly",
                "schedule": "fri 16:00",
                "timezone": "America/New_York",
                "formats": ["weekly_list"],
                "social": {"shape": "thread", "hashtags": ["UnionStrong"]},
            }
        }
    )


@pytest.mark.parametrize(("platform", "fmt"), CASES)
def test_format_posts_match_golden(
    request: pytest.FixtureRequest, settings: Settings, platform: str, fmt: str
) -> None:
    posts = compose(settings, edition_of([SECTION_BUILDERS[fmt]()]), platform)
    assert len(posts) >= 2  # the root post and at least one for the section
    compare(request, f"{platform}/{fmt}.json", as_json(posts))
    compare(request, f"{platform}/{fmt}.txt", as_text(posts))


@pytest.mark.parametrize("platform", PLATFORMS)
def test_full_edition_posts_match_golden(
    request: pytest.FixtureRequest, settings: Settings, platform: str
) -> None:
    edition = edition_of([build() for build in SECTION_BUILDERS.values()])
    posts = compose(settings, edition, platform)
    compare(request, f"{platform}/full_edition.json", as_json(posts))
    compare(request, f"{platform}/full_edition.txt", as_text(posts))
