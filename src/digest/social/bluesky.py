"""Posting to Bluesky through the atproto SDK.

One login per session file: the session string is saved (mode 0600, never logged) on
every create/refresh and restored next time, because createSession is tightly limited.
Each post's record key is chosen before posting and kept in the ledger, so after a
crash or a 5xx the next run asks the PDS whether that record exists instead of guessing.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from atproto import Client, models
from atproto_client.client.session import Session, SessionEvent
from atproto_client.exceptions import (
    BadRequestError,
    InvokeTimeoutError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.request import Request
from atproto_core.exceptions import AtProtocolError

from digest.config import BlueskyChannel, Settings
from digest.models import Embed, Facet, Post
from digest.social.ledger import Ref
from digest.social.media import Fetcher, ImageError, prepare_image
from digest.social.publish import PostRefused, RateLimited, SocialError, UncertainError

POST_COLLECTION = "app.bsky.feed.post"
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def new_tid(now_us: int | None = None) -> str:
    """A record key in atproto's TID format: microseconds and a random clock id, base32."""
    micros = now_us if now_us is not None else time.time_ns() // 1000
    value = (micros << 10) | secrets.randbelow(1024)
    chars = []
    for _ in range(13):
        chars.append(TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def read_session(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def write_session(path: Path, session_string: str) -> None:
    """Save the session readable by this user only, replacing the old file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(session_string)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _session_saver(path: Path) -> Callable[[SessionEvent, Session], None]:
    # A plain function, as the SDK expects; it only writes, never prints the session.
    def save(event: SessionEvent, session: Session) -> None:
        if event in (SessionEvent.CREATE, SessionEvent.REFRESH):
            write_session(path, session.encode())

    return save


def translate(exc: Exception) -> SocialError:
    """An SDK failure → what it means for the thread (see digest.social.publish)."""
    if isinstance(exc, RateLimitExceededError):
        return RateLimited(f"Bluesky: {exc} (resets {exc.reset_at})", exc.reset_at)
    if isinstance(exc, InvokeTimeoutError | NetworkError):
        return UncertainError(f"Bluesky: {type(exc).__name__} {exc}")
    if isinstance(exc, BadRequestError | UnauthorizedError):
        return PostRefused(f"Bluesky refused: {exc}")
    if isinstance(exc, RequestErrorBase) and exc.response is not None:
        if exc.response.status_code >= 500:
            return UncertainError(f"Bluesky server error: {exc}")
        return PostRefused(f"Bluesky refused: {exc}")
    return PostRefused(f"Bluesky: {type(exc).__name__}: {exc}")


class BlueskyPublisher:
    """Posts, looks up and reconciles one account's thread parts."""

    platform = "bluesky"

    def __init__(
        self,
        settings: Settings,
        channel: BlueskyChannel,
        *,
        fetch_image: Fetcher,
        request: Request | None = None,
    ) -> None:
        self.settings = settings
        self.channel = channel
        self.fetch_image = fetch_image
        self.request = request
        self.session_path = settings.resolve_path(channel.session_file)
        self.warnings: list[str] = []
        self.logins = 0  # password logins made by this publisher (restores do not count)
        self._client: Client | None = None
        self._did = ""
        self._handle = channel.handle

    # -- session ---------------------------------------------------------------------

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = self._open()
        return self._client

    def _open(self) -> Client:
        client = Client(base_url=self.channel.service, request=self.request)
        client.on_session_change(_session_saver(self.session_path))
        if self._restore(client):
            return client
        try:
            client.login(
                self.channel.handle, self.channel.app_password.resolve(), fetch_bsky_profile=False
            )
        except AtProtocolError as exc:
            raise translate(exc) from None
        self.logins += 1
        self._remember(client)
        return client

    def _restore(self, client: Client) -> bool:
        saved = read_session(self.session_path)
        if not saved:
            return False
        try:
            client.login(session_string=saved, fetch_bsky_profile=False)
            current = client.com.atproto.server.get_session()
        except (AtProtocolError, ValueError):
            return False  # expired or damaged: log in with the password instead
        if current.handle != self.channel.handle and current.did != self.channel.handle:
            return False  # a session for another account
        self._remember(client)
        return True

    def _remember(self, client: Client) -> None:
        session = client._session  # the SDK keeps it here; no public accessor
        assert session is not None
        self._did = session.did
        self._handle = session.handle

    # -- Publisher -------------------------------------------------------------------

    def new_key(self) -> str:
        client = self.client
        del client
        return f"at://{self._did}/{POST_COLLECTION}/{new_tid()}"

    def publish(self, post: Post, *, key: str | None, root: Ref | None, parent: Ref | None) -> Ref:
        client = self.client
        rkey = (key or self.new_key()).rsplit("/", 1)[-1]
        record = models.AppBskyFeedPost.Record(
            text=post.text,
            created_at=client.get_current_time_iso(),
            facets=[_facet(f) for f in post.facets] or None,
            embed=self._card(post.embed) if post.embed else None,
            langs=list(post.langs[:3]) or None,
            reply=_reply(root, parent),
        )
        try:
            created = client.com.atproto.repo.create_record(
                models.ComAtprotoRepoCreateRecord.Data(
                    repo=self._did, collection=POST_COLLECTION, rkey=rkey, record=record
                )
            )
        except AtProtocolError as exc:
            raise translate(exc) from None
        return Ref(created.uri, created.cid, self.web_url(rkey))

    def lookup(
        self, post: Post, key: str | None, parent: Ref | None, since: datetime | None = None
    ) -> Ref | None:
        if not key:
            return None
        client = self.client
        rkey = key.rsplit("/", 1)[-1]
        try:
            found = client.com.atproto.repo.get_record(
                models.ComAtprotoRepoGetRecord.Params(
                    repo=self._did, collection=POST_COLLECTION, rkey=rkey
                )
            )
        except BadRequestError:
            return None  # RecordNotFound: the earlier attempt never landed
        except AtProtocolError as exc:
            raise translate(exc) from None
        return Ref(found.uri, found.cid, self.web_url(rkey))

    def web_url(self, rkey: str) -> str:
        return f"https://bsky.app/profile/{self._handle or self._did}/post/{rkey}"

    # -- link card -------------------------------------------------------------------

    def _card(self, embed: Embed) -> models.AppBskyEmbedExternal.Main:
        thumb = self._thumb(embed.thumb_url) if embed.thumb_url else None
        return models.AppBskyEmbedExternal.Main(
            external=models.AppBskyEmbedExternal.External(
                uri=embed.uri, title=embed.title, description=embed.description, thumb=thumb
            )
        )

    def _thumb(self, url: str) -> Any:
        try:
            image = prepare_image(self.fetch_image(url))
            uploaded = self.client.upload_blob(image.data)
        except (ImageError, AtProtocolError, SocialError) as exc:
            self.warnings.append(f"Bluesky link card: thumbnail {url} left out ({exc})")
            return None
        return uploaded.blob


def _facet(facet: Facet) -> models.AppBskyRichtextFacet.Main:
    feature: Any
    if facet.kind == "link":
        feature = models.AppBskyRichtextFacet.Link(uri=facet.value)
    elif facet.kind == "tag":
        feature = models.AppBskyRichtextFacet.Tag(tag=facet.value)
    else:
        feature = models.AppBskyRichtextFacet.Mention(did=facet.value)
    return models.AppBskyRichtextFacet.Main(
        index=models.AppBskyRichtextFacet.ByteSlice(
            byte_start=facet.byte_start, byte_end=facet.byte_end
        ),
        features=[feature],
    )


def _reply(root: Ref | None, parent: Ref | None) -> models.AppBskyFeedPost.ReplyRef | None:
    if root is None or parent is None:
        return None
    return models.AppBskyFeedPost.ReplyRef(
        root=models.ComAtprotoRepoStrongRef.Main(uri=root.id, cid=root.cid or ""),
        parent=models.ComAtprotoRepoStrongRef.Main(uri=parent.id, cid=parent.cid or ""),
    )
