"""Golden files: MJML, HTML and text per format and for a full edition.

Refresh on purpose only: ``pytest tests/render --update-golden``; review the diff.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from digest.config import Settings
from digest.models import Edition, Section
from digest.render import Renderer

GOLDEN = Path(__file__).parent / "golden"
FORMATS = [
    "weekly_list",
    "in_the_states",
    "affiliates_doing",
    "worker_wins",
    "spotlight",
    "affiliate_profile",
    "political_action",
]


def compare(request: pytest.FixtureRequest, name: str, actual: str) -> None:
    path = GOLDEN / name
    if request.config.getoption("--update-golden"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path} missing: run pytest tests/render --update-golden"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from golden (refresh with --update-golden)"


@pytest.mark.parametrize("fmt", FORMATS)
def test_section_matches_golden(
    request: pytest.FixtureRequest,
    settings: Settings,
    section_builders: dict[str, Callable[[], Section]],
    make_edition: Callable[..., Edition],
    fmt: str,
) -> None:
    rendered = Renderer(settings).email(make_edition([section_builders[fmt]()]))
    compare(request, f"{fmt}.mjml", rendered.mjml)
    compare(request, f"{fmt}.html", rendered.html)
    compare(request, f"{fmt}.txt", rendered.text)


def test_full_edition_matches_golden(
    request: pytest.FixtureRequest, settings: Settings, full_edition: Edition
) -> None:
    renderer = Renderer(settings)
    rendered = renderer.email(full_edition)
    compare(request, "full_edition.mjml", rendered.mjml)
    compare(request, "full_edition.html", rendered.html)
    compare(request, "full_edition.txt", rendered.text)
    compare(request, "full_edition.web.html", renderer.web_page(full_edition))
