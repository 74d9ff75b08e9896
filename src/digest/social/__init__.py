"""Social announcements of an edition: compose per platform, then post or write an outbox.

``compose(settings, edition, platform)`` gives the exact posts; ``post_edition`` sends
them through every social channel of the newsletter. Posting never stops the email:
every failure becomes a warning in the run report.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from digest.config import BlueskyChannel, Settings, SocialChannel, SocialOutboxChannel, XChannel
from digest.models import Edition, Post, RunReport
from digest.render import Renderer
from digest.social.compose import compose, plan
from digest.social.outbox import outbox_path, write_outbox
from digest.social.publish import Clock, Publisher, post_thread
from digest.store import Store

__all__ = ["compose", "plan", "post_edition", "social_channel_names"]

log = logging.getLogger(__name__)
NOT_APPROVED = ("draft", "held")


def social_channel_names(settings: Settings, newsletter: str) -> list[str]:
    return settings.channel_names(newsletter, SocialChannel)


def output_label(channel: SocialChannel, name: str) -> str:
    """'Bluesky (bluesky)', 'X outbox (x)': plain words, no colon-delimited names (rich
    would read 'social:x:' as an emoji code)."""
    from digest.render.filters import platform_name

    kind = " outbox" if isinstance(channel, SocialOutboxChannel) else ""
    return f"{platform_name(channel.platform)}{kind} ({name})"


def post_edition(
    settings: Settings,
    store: Store,
    edition: Edition,
    report: RunReport,
    *,
    dry_run: bool = False,
    only: str | None = None,
    publishers: Mapping[str, Publisher] | None = None,
    bluesky_request: Any = None,
    x_session: Any = None,
    x_api: Any = None,
    fetch_image: Any = None,
    clock: Clock | None = None,
    renderer: Renderer | None = None,
) -> list[Post]:
    """Compose and deliver the edition on each social channel; return the composed posts.

    ``publishers`` (by channel name), ``bluesky_request`` (an atproto Request),
    ``x_session`` (a requests.Session, used for API v2 posts and v1.1 media uploads),
    ``x_api`` (a tweepy.API), ``fetch_image`` and
    ``clock`` are injection points for tests. ``renderer``: the run's Renderer (one is
    made for all channels if not given).
    """
    renderer = renderer or Renderer(settings)
    composed: list[Post] = []
    for name in social_channel_names(settings, edition.newsletter):
        if only is not None and name != only:
            continue
        channel = settings.channels[name]
        assert isinstance(channel, SocialChannel)
        label = f"{channel.platform} channel '{name}'"
        try:
            planned = plan(settings, edition, channel.platform, renderer)
        except Exception as exc:  # a template mistake must not stop the email
            log.exception("composing %s failed", label)
            report.warn(f"{label}: could not compose the posts: {exc}")
            report.social_failed += 1
            continue
        posts = planned.posts
        if planned.left_out:
            report.warn(f"{label}: left out (over the post limits): {'; '.join(planned.left_out)}")
        composed.extend(posts)
        if dry_run or not posts:
            continue
        try:
            _deliver(
                settings,
                store,
                edition,
                report,
                name,
                channel,
                posts,
                publishers=publishers or {},
                bluesky_request=bluesky_request,
                x_session=x_session,
                x_api=x_api,
                fetch_image=fetch_image,
                clock=clock or Clock(),
            )
        except Exception as exc:  # anything unforeseen is reported, never raised
            log.exception("posting on %s failed", label)
            report.warn(f"{label}: posting stopped: {type(exc).__name__}: {exc}")
            report.social_failed += 1
    return composed


def _deliver(
    settings: Settings,
    store: Store,
    edition: Edition,
    report: RunReport,
    name: str,
    channel: SocialChannel,
    posts: list[Post],
    *,
    publishers: Mapping[str, Publisher],
    bluesky_request: Any,
    x_session: Any,
    x_api: Any,
    fetch_image: Any,
    clock: Clock,
) -> None:
    label = f"{channel.platform} channel '{name}'"
    if isinstance(channel, SocialOutboxChannel):
        path = outbox_path(settings, channel, edition)
        write_outbox(path, posts)
        report.outputs[output_label(channel, name)] = str(path)
        report.posts += len(posts)
        return
    if edition.id is None:
        report.warn(f"{label}: the edition is not stored, so it cannot be posted")
        return
    status = _status(store, edition.id)
    if status in NOT_APPROVED:
        report.warn(f"{label}: edition {edition.id} is {status}; not posted until approved")
        return
    publisher = publishers.get(name) or _publisher(
        settings, channel, bluesky_request, x_session, x_api, fetch_image
    )
    result = post_thread(store, edition.id, posts, publisher, report, clock, label)
    report.warnings.extend(getattr(publisher, "warnings", ()))
    report.posts += result.posted
    if not result.complete:
        report.social_failed += 1
    if result.refs:
        report.outputs[output_label(channel, name)] = result.refs[0].url or result.refs[0].id


def _status(store: Store, edition_id: int) -> str | None:
    from digest.store.tables import EditionRow

    with store.session() as session:
        row = session.get(EditionRow, edition_id)
        return row.status if row else None


def _publisher(
    settings: Settings,
    channel: SocialChannel,
    bluesky_request: Any,
    x_session: Any,
    x_api: Any,
    fetch_image: Any,
) -> Publisher:
    from digest.social.media import make_fetcher

    fetcher = fetch_image or make_fetcher(settings)
    if isinstance(channel, BlueskyChannel):
        from digest.social.bluesky import BlueskyPublisher

        return BlueskyPublisher(settings, channel, fetch_image=fetcher, request=bluesky_request)
    if isinstance(channel, XChannel):
        from digest.social.x import XPublisher

        return XPublisher(settings, channel, fetch_image=fetcher, session=x_session, api=x_api)
    raise TypeError(f"no publisher for {channel.platform} channels")
