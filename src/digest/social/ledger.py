"""The social post ledger: one row per (edition, platform, part), written before posting.

A part moves pending → posting → posted (or failed). 'posting' is committed before the
request goes out, so after a crash or a 5xx a rerun knows the outcome is unknown and
reconciles (looks the post up) instead of posting again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update

from digest.models import Post
from digest.store import Store
from digest.store.tables import SocialPostRow


@dataclass(frozen=True)
class Ref:
    """A published post: its id (X tweet id / Bluesky at:// URI), cid and web URL."""

    id: str
    cid: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Entry:
    part: int
    text: str
    status: str
    remote_id: str | None
    remote_cid: str | None
    url: str | None
    attempted_at: datetime | None = None

    @property
    def ref(self) -> Ref | None:
        return Ref(self.remote_id, self.remote_cid, self.url) if self.remote_id else None


def _entry(row: SocialPostRow) -> Entry:
    attempted = row.attempted_at
    if attempted is not None and attempted.tzinfo is None:  # SQLite drops the zone
        attempted = attempted.replace(tzinfo=UTC)
    return Entry(row.part, row.text, row.status, row.remote_id, row.remote_cid, row.url, attempted)


def prepare(store: Store, edition_id: int, platform: str, posts: list[Post]) -> list[Entry]:
    """Create pending rows for parts not yet in the ledger; return every part's entry."""
    with store.session() as session:
        existing = {
            row.part: row
            for row in session.scalars(
                select(SocialPostRow).where(
                    SocialPostRow.edition_id == edition_id, SocialPostRow.platform == platform
                )
            )
        }
        for post in posts:
            if post.part not in existing:
                row = SocialPostRow(
                    edition_id=edition_id,
                    platform=platform,
                    part=post.part,
                    text=post.text,
                    status="pending",
                )
                session.add(row)
                existing[post.part] = row
        session.flush()
        return [_entry(existing[part]) for part in sorted(existing)]


def entries(store: Store, edition_id: int, platform: str) -> list[Entry]:
    with store.session() as session:
        rows = session.scalars(
            select(SocialPostRow)
            .where(SocialPostRow.edition_id == edition_id, SocialPostRow.platform == platform)
            .order_by(SocialPostRow.part)
        )
        return [_entry(row) for row in rows]


def claim(
    store: Store,
    edition_id: int,
    platform: str,
    part: int,
    key: str | None,
    *,
    was: str,
    now: datetime | None = None,
) -> bool:
    """Mark a part 'posting' (with the remote id chosen in advance, if any), and record
    when its first attempt began (kept across retries: the attempt window).

    Conditional on the status read before, so two runs cannot both post the same part.
    """
    with store.session() as session:
        result = session.execute(
            update(SocialPostRow)
            .where(
                SocialPostRow.edition_id == edition_id,
                SocialPostRow.platform == platform,
                SocialPostRow.part == part,
                SocialPostRow.status == was,
            )
            .values(
                status="posting",
                remote_id=key,
                error=None,
                attempted_at=func.coalesce(SocialPostRow.attempted_at, now),
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def mark(
    store: Store,
    edition_id: int,
    platform: str,
    part: int,
    status: str,
    *,
    ref: Ref | None = None,
    error: str | None = None,
    now: datetime | None = None,
) -> None:
    values: dict[str, object] = {"status": status, "error": error}
    if ref is not None:
        values.update(remote_id=ref.id, remote_cid=ref.cid, url=ref.url)
    if status == "posted":
        values["posted_at"] = now
    with store.session() as session:
        session.execute(
            update(SocialPostRow)
            .where(
                SocialPostRow.edition_id == edition_id,
                SocialPostRow.platform == platform,
                SocialPostRow.part == part,
            )
            .values(**values)
        )
