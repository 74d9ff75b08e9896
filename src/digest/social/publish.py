"""Posting a thread through the ledger: each part recorded before the next, resumable.

Platform clients (Bluesky, X) implement ``Publisher`` and translate their failures into
the errors below; this module decides what each failure means for the thread:

* ``RateLimited``: wait for the reset the server named (if soon enough), then retry.
* ``DuplicatePost``: the post may already exist; look it up, never post blindly again.
* ``UncertainError`` (5xx, timeout, broken connection): the post may or may not exist;
  the part stays 'posting' and the next run looks it up before posting.
* ``PostRefused`` (other 4xx): the post was not made; the part is 'failed'.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from digest.models import Post, RunReport
from digest.social import ledger
from digest.social.ledger import Entry, Ref
from digest.store import Store

MAX_RATE_LIMIT_WAIT = timedelta(minutes=15)
MAX_RATE_LIMIT_RETRIES = 3


class SocialError(Exception):
    """A platform call failed; the message never carries credentials."""


class RateLimited(SocialError):
    def __init__(self, message: str, reset_at: datetime | None) -> None:
        super().__init__(message)
        self.reset_at = reset_at


class DuplicatePost(SocialError):
    """The platform says this exact post exists already (X's 403 duplicate content)."""


class UncertainError(SocialError):
    """The request may have reached the platform: outcome unknown."""


class PostRefused(SocialError):
    """The platform refused the post; it was not made."""


class Publisher(Protocol):
    platform: str

    def new_key(self) -> str | None:
        """An id chosen before posting (Bluesky record URI), or None (X)."""

    def publish(
        self, post: Post, *, key: str | None, root: Ref | None, parent: Ref | None
    ) -> Ref: ...

    def lookup(
        self, post: Post, key: str | None, parent: Ref | None, since: datetime | None = None
    ) -> Ref | None:
        """Find a post that may exist from this part's own attempt (made at or after
        ``since``, when known, in reply to ``parent``); None if there is none."""


@dataclass
class Clock:
    """Time and sleep, injectable so tests wait through a 429 without sleeping."""

    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    sleep: Callable[[float], None] = time.sleep


@dataclass
class ThreadResult:
    posted: int = 0  # parts newly posted in this run
    complete: bool = False
    refs: list[Ref] = field(default_factory=list)


def post_thread(
    store: Store,
    edition_id: int,
    posts: list[Post],
    publisher: Publisher,
    report: RunReport,
    clock: Clock,
    label: str,
) -> ThreadResult:
    """Post each part in order, resuming after the last part the ledger shows as posted."""
    platform = publisher.platform
    result = ThreadResult()
    by_part = {e.part: e for e in ledger.prepare(store, edition_id, platform, posts)}
    _warn_if_changed(posts, by_part, report, label)
    root: Ref | None = None
    parent: Ref | None = None
    for post in posts:
        entry = by_part[post.part]
        if post.standalone:  # its own post: no reply refs, and it starts no thread
            root = parent = None
        ref = _settle(
            store, edition_id, post, entry, publisher, report, clock, label, parent, root, result
        )
        if ref is None:
            return result
        root = root or ref
        parent = ref
        result.refs.append(ref)
    result.complete = True
    return result


def _warn_if_changed(
    posts: list[Post], by_part: dict[int, Entry], report: RunReport, label: str
) -> None:
    for post in posts:
        entry = by_part[post.part]
        if entry.status == "posted" and entry.text != post.text:
            report.warn(
                f"{label}: part {post.part} was posted with different text than the "
                "templates give now; it is left as posted"
            )


def _settle(
    store: Store,
    edition_id: int,
    post: Post,
    entry: Entry,
    publisher: Publisher,
    report: RunReport,
    clock: Clock,
    label: str,
    parent: Ref | None,
    root: Ref | None,
    result: ThreadResult,
) -> Ref | None:
    """The part's published ref (found, or posted now), or None when the thread must stop."""
    platform = publisher.platform
    if entry.status == "posted" and entry.ref is not None:
        return entry.ref
    key = entry.remote_id
    if entry.status == "posting":
        found = _lookup(publisher, post, key, parent, report, label, entry.attempted_at)
        if found is _LOOKUP_FAILED:
            return None
        if isinstance(found, Ref):
            ledger.mark(
                store, edition_id, platform, post.part, "posted", ref=found, now=clock.now()
            )
            return found
    key = key if (entry.status == "posting" and key) else publisher.new_key()
    attempt_began = entry.attempted_at or clock.now()
    if not ledger.claim(
        store, edition_id, platform, post.part, key, was=entry.status, now=attempt_began
    ):
        report.warn(f"{label}: part {post.part} is being posted by another run; stopping")
        return None
    try:
        ref = _publish_waiting(publisher, post, key, root, parent, clock)
    except DuplicatePost as exc:
        return _reconcile_duplicate(
            store,
            edition_id,
            post,
            key,
            publisher,
            report,
            clock,
            label,
            parent,
            exc,
            attempt_began,
        )
    except RateLimited as exc:
        ledger.mark(store, edition_id, platform, post.part, "pending", error=str(exc))
        report.warn(f"{label}: part {post.part} rate limited ({exc}); rerun to finish")
        return None
    except UncertainError as exc:
        # keep 'posting': the next run looks the post up before trying again
        ledger.mark(
            store,
            edition_id,
            platform,
            post.part,
            "posting",
            ref=Ref(key) if key else None,
            error=str(exc),
        )
        report.warn(f"{label}: part {post.part} outcome unknown ({exc}); rerun to finish")
        return None
    except SocialError as exc:
        ledger.mark(store, edition_id, platform, post.part, "failed", error=str(exc))
        report.warn(f"{label}: part {post.part} failed: {exc}")
        return None
    ledger.mark(store, edition_id, platform, post.part, "posted", ref=ref, now=clock.now())
    result.posted += 1
    return ref


_LOOKUP_FAILED = object()


def _lookup(
    publisher: Publisher,
    post: Post,
    key: str | None,
    parent: Ref | None,
    report: RunReport,
    label: str,
    since: datetime | None = None,
) -> object:
    try:
        return publisher.lookup(post, key, parent, since)
    except SocialError as exc:
        report.warn(
            f"{label}: part {post.part} may have been posted, and checking failed ({exc}); "
            "not posting it again until a rerun can check"
        )
        return _LOOKUP_FAILED


def _publish_waiting(
    publisher: Publisher,
    post: Post,
    key: str | None,
    root: Ref | None,
    parent: Ref | None,
    clock: Clock,
) -> Ref:
    """Publish, waiting out 429s whose reset is near; give up on a far or unnamed reset."""
    for _attempt in range(MAX_RATE_LIMIT_RETRIES):
        try:
            return publisher.publish(post, key=key, root=root, parent=parent)
        except RateLimited as exc:
            wait = _wait_for(exc, clock)
            if wait is None:
                raise
            clock.sleep(wait)
    return publisher.publish(post, key=key, root=root, parent=parent)


def _wait_for(exc: RateLimited, clock: Clock) -> float | None:
    if exc.reset_at is None:
        return None
    wait = (exc.reset_at - clock.now()).total_seconds() + 1
    if wait > MAX_RATE_LIMIT_WAIT.total_seconds():
        return None
    return max(wait, 0.0)


def _reconcile_duplicate(
    store: Store,
    edition_id: int,
    post: Post,
    key: str | None,
    publisher: Publisher,
    report: RunReport,
    clock: Clock,
    label: str,
    parent: Ref | None,
    exc: DuplicatePost,
    since: datetime,
) -> Ref | None:
    """X refused the post as a duplicate: accept only a post made by this part's own
    attempt (same text, in reply to the same parent, made since the attempt began);
    an identical older post (last week's) is reported, never taken for this one."""
    platform = publisher.platform
    found = _lookup(publisher, post, key, parent, report, label, since)
    if isinstance(found, Ref):
        ledger.mark(store, edition_id, platform, post.part, "posted", ref=found, now=clock.now())
        report.warn(f"{label}: part {post.part} already existed ({exc}); recorded it")
        return found
    ledger.mark(store, edition_id, platform, post.part, "failed", error=str(exc))
    report.warn(
        f"{label}: part {post.part} refused as a duplicate of a post not made by this "
        f"attempt (none with its text since {since.isoformat(timespec='seconds')}); "
        "not retried: change the text or post it by hand"
    )
    return None
