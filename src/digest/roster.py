"""The roster report: for each grouped section (In the States, What Working People Are
Doing), which of the organisations the config follows posted nothing this period, and
which of their accounts or feeds could not be read at the last collect, so the editor
can chase them before the edition goes out.

The roster is every origin a configured source speaks for (a feed's origin, each Bluesky
or X account's origin) that the format's selection would take; a Bluesky list's members
are only known once read, so they are not on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.config import BlueskySource, FormatConfig, OriginConfig, Settings, XSource
from digest.models import Edition, RunReport
from digest.store.tables import SourceState


@dataclass(frozen=True)
class Member:
    """One organisation on a section's roster, read through one source (and account)."""

    heading: str
    source_id: str
    account: str | None = None  # the Bluesky or X handle, for social sources


@dataclass
class SectionRoster:
    title: str
    quiet: list[str] = field(default_factory=list)  # headings with nothing this period
    failed: list[str] = field(default_factory=list)  # "who (source): why"

    def to_dict(self) -> dict[str, list[str]]:
        return {"quiet": self.quiet, "failed": self.failed}


def members(settings: Settings, fmt: FormatConfig) -> list[Member]:
    """Everyone the format's selection would take, by heading."""
    found = []
    for source_id, source in settings.sources.items():
        if fmt.select.sources and source_id not in fmt.select.sources:
            continue
        wanted_tags = {t.lower() for t in fmt.select.tags}
        if wanted_tags and not wanted_tags & {t.lower() for t in source.tags}:
            continue
        for origin, account in _origins(source):
            if fmt.select.kinds and origin.kind not in fmt.select.kinds:
                continue
            heading = origin.state if fmt.group_by == "state" else origin.name
            if heading:
                found.append(Member(heading, source_id, account))
    return found


def _origins(source: object) -> list[tuple[OriginConfig, str | None]]:
    if isinstance(source, BlueskySource | XSource):
        return [(account.origin, account.handle) for account in source.accounts]
    origin = getattr(source, "origin", None)
    return [(origin, None)] if isinstance(origin, OriginConfig) else []


def roster_report(settings: Settings, session: Session, edition: Edition) -> list[SectionRoster]:
    """The roster of each grouped section of the edition."""
    rosters = []
    states = {row.source_id: row for row in session.scalars(select(SourceState))}
    for section in edition.sections:
        fmt = settings.formats.get(section.format_id)
        if fmt is None or fmt.strategy != "grouped":
            continue
        roster = members(settings, fmt)
        present = {group.heading for group in section.groups if group.items}
        result = SectionRoster(section.title)
        result.quiet = sorted({m.heading for m in roster} - present, key=str.casefold)
        result.failed = _failures(roster, states)
        rosters.append(result)
    return rosters


def _failures(roster: list[Member], states: dict[str, SourceState]) -> list[str]:
    failed = []
    for member in roster:
        state = states.get(member.source_id)
        if state is None:
            continue
        if state.status == "error":
            failed.append(f"{member.heading} ({member.source_id}): {state.error}")
            continue
        accounts = (state.cursor or {}).get("failed_accounts") or {}
        if member.account and member.account in accounts:
            why = accounts[member.account]
            failed.append(f"{member.heading} (@{member.account.lstrip('@')}): {why}")
    return sorted(set(failed), key=str.casefold)


def add_to_report(
    settings: Settings, session: Session, edition: Edition, report: RunReport
) -> None:
    """The rosters in the run report (printed with it, stored with the run)."""
    for roster in roster_report(settings, session, edition):
        if roster.quiet or roster.failed:
            report.roster[roster.title] = roster.to_dict()
