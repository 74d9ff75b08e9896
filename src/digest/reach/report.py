"""What an edition did: deliveries, the people it lost, clicks per link, section and group.

Everything here is read from the ledgers digest already keeps, aggregated: no person is
named. Unsubscribes, bounces and complaints are attributed to the last edition of the
newsletter that person had been sent before the event (the edition that prompted it).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.config import Settings
from digest.errors import DigestError
from digest.store.tables import (
    ClickRow,
    DeliveryRow,
    EditionRow,
    LinkRow,
    SocialCountRow,
    SocialPostRow,
    SubscriptionRow,
    SuppressionRow,
)


@dataclass
class LinkStats:
    link: int
    url: str
    label: str
    section: str
    group: str
    clicks: int = 0  # people's
    machine: int = 0  # scanners, prefetches, bursts: counted apart


@dataclass
class Tally:
    """Clicks of one section or group."""

    name: str
    clicks: int = 0
    machine: int = 0


@dataclass
class SocialStats:
    platform: str
    part: int
    url: str | None
    status: str
    counts: dict[str, int] = field(default_factory=dict)  # likes, reposts, replies, quotes


@dataclass
class EditionReport:
    edition_id: int
    newsletter: str
    subject: str
    period_end: datetime
    status: str
    sent_at: datetime | None
    deliveries: dict[str, int]  # delivered, deferred, queued, failed, suppressed, …
    bounced: int
    complaints: int
    unsubscribes: int
    links: list[LinkStats]
    sections: list[Tally]
    groups: list[Tally]
    social: list[SocialStats]

    @property
    def delivered(self) -> int:
        return self.deliveries.get("delivered", 0)

    @property
    def clicks(self) -> int:
        return sum(link.clicks for link in self.links)

    @property
    def machine_clicks(self) -> int:
        return sum(link.machine for link in self.links)

    @property
    def clicks_per_100(self) -> float:
        """People's clicks per 100 delivered copies (aggregate: not unique readers)."""
        return round(100 * self.clicks / self.delivered, 1) if self.delivered else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["period_end"] = self.period_end.isoformat()
        data["sent_at"] = self.sent_at.isoformat() if self.sent_at else None
        data["totals"] = {
            "delivered": self.delivered,
            "clicks": self.clicks,
            "machine_clicks": self.machine_clicks,
            "clicks_per_100_delivered": self.clicks_per_100,
        }
        return data


def delivery_label(status: str, attempts: int, next_attempt_at: datetime | None) -> str:
    """The ledger's row status in the words of a report."""
    if status == "sent":
        return "delivered"
    if status in ("pending", "deferred", "sending"):
        return "deferred" if (attempts or next_attempt_at is not None) else "queued"
    return status


def _deliveries(session: Session, edition_id: int) -> dict[str, int]:
    rows = session.execute(
        select(
            DeliveryRow.status,
            DeliveryRow.attempts,
            DeliveryRow.next_attempt_at,
            func.count(),
        )
        .where(DeliveryRow.edition_id == edition_id)
        .group_by(DeliveryRow.status, DeliveryRow.attempts, DeliveryRow.next_attempt_at)
    ).all()
    counts: Counter[str] = Counter()
    for status, attempts, next_at, n in rows:
        counts[delivery_label(status, attempts, next_at)] += n
    return dict(counts)


def _last_edition_before(
    sent: dict[Any, list[tuple[datetime, int]]], key: Any, when: datetime
) -> int | None:
    before = [(at, edition) for at, edition in sent.get(key, []) if at <= when]
    return max(before)[1] if before else None


def _lost(session: Session, row: EditionRow, list_name: str) -> tuple[int, int, int]:
    """(bounced, complaints, unsubscribes) that followed this edition."""
    editions = select(EditionRow.id).where(EditionRow.newsletter == row.newsletter)
    recipients = select(DeliveryRow.subscriber_id).where(DeliveryRow.edition_id == row.id)
    history = session.execute(
        select(
            DeliveryRow.subscriber_id,
            DeliveryRow.email,
            DeliveryRow.sent_at,
            DeliveryRow.edition_id,
        )
        .where(DeliveryRow.edition_id.in_(editions))
        .where(DeliveryRow.subscriber_id.in_(recipients))
        .where(DeliveryRow.sent_at.is_not(None))
    ).all()
    by_subscriber: dict[int, list[tuple[datetime, int]]] = {}
    by_email: dict[str, list[tuple[datetime, int]]] = {}
    for subscriber_id, email, sent_at, edition_id in history:
        if sent_at is None:
            continue
        by_subscriber.setdefault(subscriber_id, []).append((sent_at, edition_id))
        by_email.setdefault(email, []).append((sent_at, edition_id))
    unsubscribed = session.execute(
        select(SubscriptionRow.subscriber_id, SubscriptionRow.unsubscribed_at)
        .where(SubscriptionRow.list_name == list_name)
        .where(SubscriptionRow.subscriber_id.in_(recipients))
        .where(SubscriptionRow.unsubscribed_at.is_not(None))
    ).all()
    unsubscribes = sum(
        1
        for sid, at in unsubscribed
        if at is not None and _last_edition_before(by_subscriber, sid, at) == row.id
    )
    suppressed = session.execute(
        select(SuppressionRow.email, SuppressionRow.reason, SuppressionRow.created_at).where(
            SuppressionRow.email.in_(list(by_email))
        )
    ).all()
    reasons = Counter(
        reason
        for email, reason, at in suppressed
        if _last_edition_before(by_email, email, at) == row.id
    )
    return reasons["bounced"], reasons["complained"], unsubscribes


def _links(session: Session, edition_id: int) -> list[LinkStats]:
    links = {
        r.link: LinkStats(r.link, r.url, r.label, r.section, r.group)
        for r in session.scalars(select(LinkRow).where(LinkRow.edition_id == edition_id))
    }
    counted = session.execute(
        select(ClickRow.link, ClickRow.machine, func.count())
        .where(ClickRow.edition_id == edition_id)
        .group_by(ClickRow.link, ClickRow.machine)
    ).all()
    for link, machine, n in counted:
        stats = links.setdefault(link, LinkStats(link, "", f"link {link}", "", ""))
        if machine:
            stats.machine += n
        else:
            stats.clicks += n
    return sorted(links.values(), key=lambda s: s.link)


def _tallies(links: Iterable[LinkStats], key: str) -> list[Tally]:
    tallies: dict[str, Tally] = {}
    for link in links:
        name = getattr(link, key) or ("Other links" if key == "section" else "")
        if not name:
            continue
        tally = tallies.setdefault(name, Tally(name))
        tally.clicks += link.clicks
        tally.machine += link.machine
    return sorted(tallies.values(), key=lambda t: (-t.clicks, t.name))


def _social(session: Session, edition_id: int) -> list[SocialStats]:
    rows = session.scalars(
        select(SocialPostRow)
        .where(SocialPostRow.edition_id == edition_id)
        .order_by(SocialPostRow.platform, SocialPostRow.part)
    )
    counts = {
        (row.platform, row.part): dict(row.counts)
        for row in session.scalars(
            select(SocialCountRow).where(SocialCountRow.edition_id == edition_id)
        )
    }
    return [
        SocialStats(r.platform, r.part, r.url, r.status, counts.get((r.platform, r.part), {}))
        for r in rows
    ]


def edition_report(settings: Settings, session: Session, edition_id: int) -> EditionReport:
    row = session.get(EditionRow, edition_id)
    if row is None:
        raise DigestError(f"there is no edition {edition_id}")
    bounced, complaints, unsubscribes = _lost(session, row, settings.audience_of(row.newsletter))
    links = _links(session, edition_id)
    return EditionReport(
        edition_id=row.id,
        newsletter=row.newsletter,
        subject=row.subject,
        period_end=row.period_end,
        status=row.status,
        sent_at=row.sent_at,
        deliveries=_deliveries(session, edition_id),
        bounced=bounced,
        complaints=complaints,
        unsubscribes=unsubscribes,
        links=links,
        sections=_tallies(links, "section"),
        groups=_tallies(links, "group"),
        social=_social(session, edition_id),
    )


def edition_ids(session: Session, newsletter: str, limit: int = 12) -> list[int]:
    """The newsletter's latest editions that went out (or are going), oldest first."""
    ids = session.scalars(
        select(EditionRow.id)
        .where(EditionRow.newsletter == newsletter)
        .where(EditionRow.status.in_(("sending", "sent", "paused")))
        .order_by(EditionRow.period_end.desc())
        .limit(limit)
    ).all()
    return list(reversed(ids))


def trend(
    settings: Settings, session: Session, newsletter: str, limit: int = 12
) -> list[EditionReport]:
    return [edition_report(settings, session, i) for i in edition_ids(session, newsletter, limit)]


def links_csv(report: EditionReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["edition", "link", "section", "group", "label", "url", "clicks", "machine_clicks"]
    )
    for link in report.links:
        writer.writerow(
            [
                report.edition_id,
                link.link,
                link.section,
                link.group,
                link.label,
                link.url,
                link.clicks,
                link.machine,
            ]
        )
    return out.getvalue()


TREND_COLUMNS = (
    "edition",
    "period_end",
    "subject",
    "delivered",
    "deferred",
    "failed",
    "bounced",
    "complaints",
    "unsubscribes",
    "clicks",
    "machine_clicks",
    "clicks_per_100_delivered",
)


def trend_rows(reports: Sequence[EditionReport]) -> list[list[Any]]:
    return [
        [
            r.edition_id,
            r.period_end.date().isoformat(),
            r.subject,
            r.delivered,
            r.deliveries.get("deferred", 0),
            r.deliveries.get("failed", 0),
            r.bounced,
            r.complaints,
            r.unsubscribes,
            r.clicks,
            r.machine_clicks,
            r.clicks_per_100,
        ]
        for r in reports
    ]


def trend_csv(reports: Sequence[EditionReport]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(TREND_COLUMNS)
    writer.writerows(trend_rows(reports))
    return out.getvalue()
