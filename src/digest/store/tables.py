"""The database schema (SQLAlchemy 2 declarative). Changes go through Alembic revisions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on every backend (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware one")

        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None

        return value if value.tzinfo else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class SourceState(Base):
    """Per-source fetch state: conditional-GET validators and the last outcome."""

    __tablename__ = "source_state"
    source_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    fetched_at: Mapped[datetime | None]
    status: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    cursor: Mapped[dict[str, Any] | None]  # e.g. Bluesky DIDs resolved for handles


class ItemRow(Base):
    """A collected item. Deduplicated by (source, guid) and by canonical URL."""

    __tablename__ = "items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(String(200), index=True)
    guid: Mapped[str] = mapped_column(String(1000))
    canonical_url: Mapped[str] = mapped_column(String(2000), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(index=True)
    collected_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    data: Mapped[dict[str, Any]]  # models.Item.to_dict()
    __table_args__ = (UniqueConstraint("source_id", "guid", name="uq_items_source_guid"),)


class EditionRow(Base):
    """A built edition: frozen sections, rendered HTML and text, and its send state."""

    __tablename__ = "editions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    newsletter: Mapped[str] = mapped_column(String(200))
    period_key: Mapped[str] = mapped_column(String(40))
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    title: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    # digest.lifecycle.EditionStatus: draft → approved → sending → sent (| paused),
    # held, cancelled; changed only through digest.lifecycle
    status: Mapped[str] = mapped_column(String(20), default="draft")
    headline: Mapped[str | None] = mapped_column(Text)
    preheader: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    # the staff's edits (digest.overlay.Overlay.to_dict), applied on every recompose
    overlay: Mapped[dict[str, Any] | None]
    # the automatic selection (Section.to_dict list) as of the last recompose from the
    # store: an edit re-applies the overlay to it and renders, without a new selection
    selection: Mapped[list[Any] | None]
    # sha256 of the frozen renditions, set at approval; what is sent must match it
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    # bumped on every stored change of the draft: the desk's conflict check
    revision: Mapped[int] = mapped_column(Integer, default=0)
    composed_at: Mapped[datetime | None]
    sections: Mapped[list[Any]]
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    web_html: Mapped[str] = mapped_column(Text)
    # nonce of the recipient markers in html/text ("" = the bare markers of old rows)
    markers: Mapped[str] = mapped_column(String(32), default="", server_default="")
    created_at: Mapped[datetime]
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(320))
    sent_at: Mapped[datetime | None]
    # one sender at a time: owner token and lease expiry
    lock_owner: Mapped[str | None] = mapped_column(String(100))
    lock_expires: Mapped[datetime | None]
    pause_reason: Mapped[str | None] = mapped_column(Text)
    # delivery: when sending began, the deadline for deferred recipients, the staff notice
    send_started_at: Mapped[datetime | None]
    deliver_until: Mapped[datetime | None]
    delivery_noticed_at: Mapped[datetime | None]
    __table_args__ = (UniqueConstraint("newsletter", "period_key", name="uq_editions_period"),)


class EditionEventRow(Base):
    """The edition's history: every transition and every edit, with who and when."""

    __tablename__ = "edition_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(40))  # transition name or "edit"
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")


class SubscriberRow(Base):
    """A person; their status is separate from each subscription's status."""

    __tablename__ = "subscribers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # normalized
    name: Mapped[str | None] = mapped_column(String(300))
    # active | unsubscribed | bounced | complained | suppressed
    status: Mapped[str] = mapped_column(String(20), default="active")
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # counted per person only where the organisation turned that on (reach.clicks:
    # per_subscriber) and this stays True; the preferences page lets them switch it off
    click_tracking: Mapped[bool] = mapped_column(default=True, server_default=true())


class SubscriptionRow(Base):
    """One subscriber's subscription to one newsletter's list."""

    __tablename__ = "subscriptions"
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id"), primary_key=True)
    list_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))  # pending | confirmed | unsubscribed
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    paused_until: Mapped[datetime | None]


class ConsentRow(Base):
    """Proof of consent (GDPR Art. 7(1)): who, when, which form, which text, from where."""

    __tablename__ = "consents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id"), index=True)
    list_name: Mapped[str] = mapped_column(String(200))
    form: Mapped[str] = mapped_column(String(200))
    text_version: Mapped[str] = mapped_column(String(100))
    ip: Mapped[str | None] = mapped_column(String(100))
    user_agent: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]


class SuppressionRow(Base):
    """Addresses never to be mailed again; no import or resubscribe overrides this silently."""

    __tablename__ = "suppressions"
    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(String(40))  # bounced | complained | manual | unsubscribed
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class DeliveryRow(Base):
    """The delivery ledger: one row per (edition, subscriber), audience frozen at creation."""

    __tablename__ = "deliveries"
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id"), primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id"), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(300))
    # digest.delivery.ledger.DeliveryStatus: pending → sending (claimed) → sent | failed |
    # suppressed; deferred = pending with a future next_attempt_at
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    message_id: Mapped[str | None] = mapped_column(String(300))
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    # the claim (digest.store.lease): who is sending this copy right now, and until when
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claim_expires: Mapped[datetime | None]
    __table_args__ = (
        Index("ix_deliveries_edition_status", "edition_id", "status"),
        Index("ix_deliveries_due", "edition_id", "status", "next_attempt_at"),
    )


class SocialPostRow(Base):
    """The post ledger: one row per (edition, platform, part), recorded before the next part."""

    __tablename__ = "social_posts"
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(20), primary_key=True)
    part: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # pending | posting | posted | failed
    remote_id: Mapped[str | None] = mapped_column(String(500))  # X tweet id / Bluesky uri
    remote_cid: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(1000))
    error: Mapped[str | None] = mapped_column(Text)
    posted_at: Mapped[datetime | None]
    # when the part's first attempt began: a reconciled post must be newer (X duplicates)
    attempted_at: Mapped[datetime | None]


# run statuses after which a period is not run again (the run ledger, and drafts, ask)
RUN_FINISHED = frozenset({"succeeded", "skipped"})


class RunRow(Base):
    """The run ledger: a (newsletter, period) runs at most once."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    newsletter: Mapped[str] = mapped_column(String(200))
    period_key: Mapped[str] = mapped_column(String(40))
    scheduled_for: Mapped[datetime | None]
    # pending | running | succeeded | failed | skipped | awaiting_approval | held
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    edition_id: Mapped[int | None] = mapped_column(ForeignKey("editions.id"))
    report: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (UniqueConstraint("newsletter", "period_key", name="uq_runs_period"),)


class RotationRow(Base):
    """Which entries of a rotating format (e.g. affiliate profiles) were already covered."""

    __tablename__ = "rotation"
    format_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    entry_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    newsletter: Mapped[str] = mapped_column(String(200))
    period_key: Mapped[str] = mapped_column(String(40))
    used_at: Mapped[datetime]


class StaffUserRow(Base):
    """A staff account of the desk: editor, publisher or admin (digest.web.users)."""

    __tablename__ = "staff_users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # normalized
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(20))  # editor | publisher | admin
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class StaffSessionRow(Base):
    """A signed-in desk session, kept server-side so signing out really ends it."""

    __tablename__ = "staff_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the id
    email: Mapped[str] = mapped_column(String(320), index=True)
    # a fingerprint of the password hash it was opened with: a new password ends it
    password_stamp: Mapped[str] = mapped_column(String(64))
    csrf: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class SpentTokenRow(Base):
    """Single-use links already used (confirm, approve): a replay is refused."""

    __tablename__ = "spent_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the nonce
    purpose: Mapped[str] = mapped_column(String(20))
    spent_at: Mapped[datetime]
    spent_by: Mapped[str | None] = mapped_column(String(320))


class LinkRow(Base):
    """A link of a sent edition that goes through the click redirect, and where it stood."""

    __tablename__ = "links"
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id"), primary_key=True)
    link: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1, 2, … in the email's order
    url: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(Text, default="")  # the item's title, where known
    section: Mapped[str] = mapped_column(String(300), default="")
    group: Mapped[str] = mapped_column(String(300), default="")  # affiliate or state heading


class ClickRow(Base):
    """One click on a tracked link: aggregate by default, so no subscriber is named."""

    __tablename__ = "clicks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id"))
    link: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    machine: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str | None] = mapped_column(String(40))  # why it counts as a machine's
    # only in the per-subscriber mode an organisation opts in to, and never when the
    # subscriber opted out on the preferences page
    subscriber_id: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (Index("ix_clicks_edition_link", "edition_id", "link"),)


class SocialCountRow(Base):
    """What a posted part did, as last read back from its platform (likes, reposts, …)."""

    __tablename__ = "social_counts"
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(20), primary_key=True)
    part: Mapped[int] = mapped_column(Integer, primary_key=True)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    read_at: Mapped[datetime | None]
