"""Formats fed by curated data files: the affiliate profile rotation and political action."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.config import FormatConfig, Settings
from digest.config_errors import describe_errors
from digest.errors import ConfigError
from digest.store.tables import RotationRow
from digest.timing import Period

M = TypeVar("M", bound=BaseModel)


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Link(_Data):
    label: str
    url: str


class Affiliate(_Data):
    key: str
    name: str
    short_name: str | None = None
    mission: str | None = None
    leadership: str | None = None
    members: str | None = None
    members_work_as: str | None = None
    industries: str | None = None
    history: str | None = None
    campaigns: str | None = None
    community: str | None = None
    links: list[Link] = []


class AffiliatesFile(_Data):
    intro: str = ""
    affiliates: list[Affiliate]


class Endorsement(_Data):
    state: str
    office: str
    candidate: str
    party: str | None = None
    url: str | None = None
    election_date: date | None = None


class Deadline(_Data):
    state: str
    label: str
    date: date
    url: str | None = None


class Campaign(_Data):
    title: str
    summary: str
    cta_label: str | None = None
    cta_url: str
    until: date | None = None


class PoliticalFile(_Data):
    endorsements: list[Endorsement] = []
    deadlines: list[Deadline] = []
    campaign: Campaign | None = None
    deadline_horizon_days: int = 60


# Profile fields in the order readers know from the series, with their labels.
PROFILE_FIELDS = (
    ("name", "Name of union"),
    ("mission", "Mission"),
    ("leadership", "Current leadership"),
    ("members", "Current number of members"),
    ("members_work_as", "Members work as"),
    ("industries", "Industries represented"),
    ("history", "History"),
    ("campaigns", "Current campaigns"),
    ("community", "Community efforts"),
)


def load_data_file(model: type[M], path: Path, shown: Path) -> M:
    """Read and validate a curated YAML file; errors name the file and the entry."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError([f"{shown}: cannot read: {exc}"]) from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, raw, prefix=f"{shown}: ", model=model)) from None


def rotation_section(
    settings: Settings,
    session: Session,
    format_id: str,
    fmt: FormatConfig,
    newsletter_id: str,
    period: Period,
) -> dict[str, Any]:
    """This period's profile: the next affiliate not yet covered, recorded so it rotates."""
    assert fmt.data is not None
    data = load_data_file(AffiliatesFile, settings.resolve_path(fmt.data), fmt.data)
    if not data.affiliates:
        return {}
    chosen = _affiliate_for(session, format_id, data.affiliates, newsletter_id, period)
    return _profile(chosen, data.intro)


def _affiliate_for(
    session: Session,
    format_id: str,
    affiliates: list[Affiliate],
    newsletter_id: str,
    period: Period,
) -> Affiliate:
    rows = session.scalars(select(RotationRow).where(RotationRow.format_id == format_id)).all()
    by_key = {a.key: a for a in affiliates}
    for row in rows:  # this period already has its profile: keep it (rebuilds are stable)
        if (
            row.newsletter == newsletter_id
            and row.period_key == period.key
            and row.entry_key in by_key
        ):
            return by_key[row.entry_key]
    covered = {row.entry_key for row in rows}
    remaining = [a for a in affiliates if a.key not in covered]
    if not remaining:  # everyone covered: start the series again
        for row in rows:
            session.delete(row)
        session.flush()
        remaining = affiliates
    chosen = remaining[0]
    session.add(
        RotationRow(
            format_id=format_id,
            entry_key=chosen.key,
            newsletter=newsletter_id,
            period_key=period.key,
            used_at=period.end,
        )
    )
    session.flush()
    return chosen


def _profile(affiliate: Affiliate, intro: str) -> dict[str, Any]:
    values = affiliate.model_dump()
    fields = [
        {"label": label, "value": values[name]} for name, label in PROFILE_FIELDS if values[name]
    ]
    return {
        "key": affiliate.key,
        "name": affiliate.name,
        "short_name": affiliate.short_name or affiliate.name,
        "intro": intro.format(name=_full_name(affiliate)),
        "fields": fields,
        "links": [link.model_dump() for link in affiliate.links],
    }


def _full_name(affiliate: Affiliate) -> str:
    """'United Transit Workers (UTW)': the series names the union in full, short name after."""
    short = affiliate.short_name
    return f"{affiliate.name} ({short})" if short and short != affiliate.name else affiliate.name


def political_section(settings: Settings, fmt: FormatConfig, period: Period) -> dict[str, Any]:
    """Upcoming endorsements and deadlines, and the current bill campaign."""
    assert fmt.data is not None
    data = load_data_file(PoliticalFile, settings.resolve_path(fmt.data), fmt.data)
    today = period.end.date()
    horizon = today.toordinal() + data.deadline_horizon_days
    endorsements = [
        e for e in data.endorsements if e.election_date is None or e.election_date >= today
    ]
    deadlines = sorted(
        (d for d in data.deadlines if today <= d.date and d.date.toordinal() <= horizon),
        key=lambda d: (d.date, d.state),
    )
    campaign = (
        data.campaign
        if data.campaign and (data.campaign.until is None or data.campaign.until >= today)
        else None
    )
    if not (endorsements or deadlines or campaign):
        return {}
    return {
        "endorsements_by_state": _by_state(endorsements),
        "deadlines": [
            {"state": d.state, "label": d.label, "date": d.date.isoformat(), "url": d.url}
            for d in deadlines
        ],
        "campaign": campaign.model_dump(mode="json") if campaign else None,
    }


def _by_state(endorsements: list[Endorsement]) -> list[dict[str, Any]]:
    states: dict[str, list[dict[str, Any]]] = {}
    for e in sorted(endorsements, key=lambda e: (e.state.casefold(), e.office.casefold())):
        states.setdefault(e.state, []).append(
            {"office": e.office, "candidate": e.candidate, "party": e.party, "url": e.url}
        )
    return [{"state": state, "entries": entries} for state, entries in states.items()]
