"""The scheduler's delivery sweep: retry deferred copies of every edition still sending.

A run ends as soon as its edition has been offered to every recipient; copies whose
servers said "try again later" stay pending in the delivery ledger with their backoff.
Once a minute the scheduler looks for editions in 'sending' with copies due and sends
them (any number of schedulers or ``digest send`` workers may do this at once: each copy
is claimed by one). When an edition is settled, its run becomes 'succeeded' (or 'failed'
if some copies failed for good, which tells staff).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from digest.config import Settings
from digest.delivery import ledger
from digest.delivery.sender import SendStopped, send_edition
from digest.errors import DigestError
from digest.logs import event
from digest.models import RunReport
from digest.notify import notify_deferred, notify_failure
from digest.store import Store
from digest.store.tables import DeliveryRow, EditionRow, RunRow

log = logging.getLogger("digest.schedule")


def editions_due(store: Store, now: datetime) -> list[int]:
    """Editions in 'sending' with a pending copy due now."""
    with store.session() as session:
        return list(
            session.scalars(
                select(EditionRow.id)
                .where(EditionRow.status == "sending")
                .where(
                    select(DeliveryRow.edition_id)
                    .where(
                        DeliveryRow.edition_id == EditionRow.id,
                        DeliveryRow.status.in_(ledger.UNSETTLED),
                        DeliveryRow.next_attempt_at <= now,
                    )
                    .exists()
                )
                .order_by(EditionRow.id)
            )
        )


def retry_deferred(settings: Settings, store: Store, now: datetime) -> list[int]:
    """Send what is due of every edition still sending; returns the editions tried."""
    tried: list[int] = []
    for edition_id in editions_due(store, now):
        newsletter = _newsletter(store, edition_id)
        if newsletter not in settings.newsletters:
            continue
        report = RunReport(newsletter=newsletter)
        try:
            send_edition(settings, store, edition_id, report, now=now, linger=0)
        except SendStopped:
            return tried
        except DigestError as exc:
            event(log, "delivery.retry_failed", logging.ERROR, edition=edition_id, error=str(exc))
            continue
        tried.append(edition_id)
        event(
            log,
            "delivery.retried",
            edition=edition_id,
            sent=report.sent,
            pending=report.deferred,
            failed=report.failed,
        )
        if report.deferred:
            notify_deferred(settings, store, edition_id, now)
        else:
            settle_run(settings, store, edition_id, report, now)
    return tried


def settle_run(
    settings: Settings, store: Store, edition_id: int, report: RunReport, now: datetime
) -> None:
    """The edition is settled: its 'sending' run ends, 'failed' if copies failed for good."""
    with store.session() as session:
        run = session.scalars(
            select(RunRow).where(RunRow.edition_id == edition_id, RunRow.status == "sending")
        ).first()
        if run is None:
            return
        failed = report.failed
        run.status = "failed" if failed else "succeeded"
        run.finished_at = now
        run.error = f"{failed} email(s) failed" if failed else None
        run.report = {**(run.report or {}), **_counts(report)}
        run_id, newsletter, period_key = run.id, run.newsletter, run.period_key
    if failed:
        notify_failure(
            settings,
            store,
            newsletter=newsletter,
            run_id=run_id,
            period_key=period_key,
            error=f"{failed} email(s) failed",
            edition_id=edition_id,
        )


def _counts(report: RunReport) -> dict[str, int]:
    return {
        "recipients": report.recipients,
        "sent": report.sent,
        "deferred": report.deferred,
        "failed": report.failed,
        "suppressed": report.suppressed,
    }


def _newsletter(store: Store, edition_id: int) -> str:
    with store.session() as session:
        return (
            session.scalar(select(EditionRow.newsletter).where(EditionRow.id == edition_id)) or ""
        )
