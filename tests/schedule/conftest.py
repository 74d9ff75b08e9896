"""Fixtures for the scheduler tests: a fake pipeline with real ledgers, a settable clock."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from digest.config import Settings
from digest.models import RunReport
from digest.store import Store
from digest.store.tables import EditionRow
from digest.timing import Period


class Killed(BaseException):
    """Stands in for the process being killed mid-run (not an ordinary failure)."""


class Clock:
    """A frozen clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class FakePipeline:
    """Behaves like run_newsletter where it matters: the edition is frozen per period, and
    sends go through a ledger file so a rerun resumes instead of repeating."""

    sent_log: Path
    recipients: tuple[str, ...] = (
        "a@example.org",
        "b@example.org",
        "c@example.org",
        "d@example.org",
        "e@example.org",
    )
    kill_after: int | None = None  # sends before a simulated kill (first call only)
    fail_with: Exception | None = None
    gate: threading.Event | None = None  # when set, wait for it before sending
    entered: threading.Event = field(default_factory=threading.Event)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(
        self,
        settings: Settings,
        newsletter_id: str,
        *,
        now: datetime,
        period: Period | None = None,
        store: Store | None = None,
        collect: bool = True,
        deliver: bool = True,
        post: bool = True,
    ) -> RunReport:
        assert period is not None and store is not None
        self.calls.append(
            {
                "newsletter": newsletter_id,
                "period": period.key,
                "collect": collect,
                "deliver": deliver,
                "post": post,
            }
        )
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(10), "test gate never opened"
        if self.fail_with is not None:
            raise self.fail_with
        report = RunReport(newsletter=newsletter_id)
        edition_id, status = self._edition(settings, store, newsletter_id, period, now)
        if deliver and status not in ("draft", "held"):
            self._deliver(edition_id, report)
        return report

    def _edition(
        self, settings: Settings, store: Store, newsletter_id: str, period: Period, now: datetime
    ) -> tuple[int, str]:
        with store.session() as session:
            row = session.scalars(
                select(EditionRow).where(
                    EditionRow.newsletter == newsletter_id, EditionRow.period_key == period.key
                )
            ).first()
            if row is None:
                needs_approval = settings.newsletters[newsletter_id].approval is not None
                row = EditionRow(
                    newsletter=newsletter_id,
                    period_key=period.key,
                    period_start=period.start,
                    period_end=period.end,
                    title="T",
                    subject=f"Weekly {period.key}",
                    status="draft" if needs_approval else "approved",
                    sections=[],
                    html="<p>hello</p>",
                    text="hello",
                    web_html="",
                    created_at=now,
                )
                session.add(row)
                session.flush()
            return row.id, row.status

    def sent(self) -> list[dict[str, Any]]:
        if not self.sent_log.exists():
            return []
        return [json.loads(line) for line in self.sent_log.read_text().splitlines()]

    def _deliver(self, edition_id: int, report: RunReport) -> None:
        done = {(s["edition"], s["to"]) for s in self.sent()}
        for to in self.recipients:
            if (edition_id, to) in done:
                continue
            if self.kill_after is not None and report.sent >= self.kill_after:
                self.kill_after = None
                raise Killed()
            with self.sent_log.open("a") as handle:
                handle.write(json.dumps({"edition": edition_id, "to": to}) + "\n")
            report.sent += 1


@pytest.fixture
def pipeline(tmp_path: Path) -> FakePipeline:
    return FakePipeline(tmp_path / "sent.jsonl")


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 20, 21, 0, tzinfo=UTC))


@pytest.fixture
def staff_settings(
    make_settings: Callable[..., Settings], raw_config: dict[str, Any]
) -> Callable[..., Settings]:
    """Settings with a staff address and per-newsletter overrides."""

    def build(**newsletter: Any) -> Settings:
        organization = {**raw_config["organization"], "staff_email": "staff@example.org"}
        weekly = {**raw_config["newsletters"]["weekly"], **newsletter}
        return make_settings(organization=organization, newsletters={"weekly": weekly})

    return build


def outbox_messages(settings: Settings) -> list[Any]:
    import mailbox

    path = settings.resolve_path(settings.channels["email"].path)  # type: ignore[union-attr]
    if not path.exists():
        return []
    return list(mailbox.Maildir(str(path), create=False))


@pytest.fixture
def outbox() -> Callable[[Settings], list[Any]]:
    return outbox_messages


@pytest.fixture
def killed() -> type[BaseException]:
    return Killed
