"""Formats turn a window of items into sections.

Each format in config.yaml names one of a few strategies; the strategy decides which
items are chosen and how they are grouped. The words around them (title, intro) and
the template are data in config.yaml.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from digest.config import FormatConfig, Settings
from digest.formats.curated_data import political_section, rotation_section
from digest.formats.select import grouped_section, list_section, single_section
from digest.models import Item, Section
from digest.store.items import items_between
from digest.timing import Period

__all__ = ["build_section", "build_sections"]


def build_sections(
    settings: Settings, session: Session, newsletter_id: str, period: Period
) -> list[Section]:
    """One section per format the newsletter carries, in its order; empty ones dropped."""
    newsletter = settings.newsletters[newsletter_id]
    window = items_between(session, period.start, period.end)
    sections = []
    for format_id in newsletter.formats:
        section = build_section(settings, session, format_id, window, newsletter_id, period)
        if not section.is_empty:
            sections.append(section)
    return sections


def build_section(
    settings: Settings,
    session: Session,
    format_id: str,
    window: list[Item],
    newsletter_id: str,
    period: Period,
) -> Section:
    fmt = settings.formats[format_id]
    section = Section(format_id=format_id, title=fmt.title, intro=fmt.intro, template=fmt.template)
    if fmt.strategy == "list":
        section.items = list_section(fmt, window)
    elif fmt.strategy == "grouped":
        section.groups = grouped_section(fmt, window)
    elif fmt.strategy == "single":
        section.items = single_section(fmt, window)
    elif fmt.strategy == "rotation":
        section.data = rotation_section(settings, session, format_id, fmt, newsletter_id, period)
    elif fmt.strategy == "political":
        section.data = political_section(settings, fmt, period)
    _apply_cta(fmt, section)
    return section


def _apply_cta(fmt: FormatConfig, section: Section) -> None:
    campaign = section.data.get("campaign")
    if fmt.call_to_action and campaign and not campaign.get("cta_label"):
        campaign["cta_label"] = fmt.call_to_action
