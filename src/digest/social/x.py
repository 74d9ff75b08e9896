"""Posting to X: tweepy for posts (API v2), API v2 media upload with alt text, OAuth 1.0a
user context.

X cannot take a post id chosen in advance, so an uncertain attempt (5xx, timeout) or a
403 "duplicate content" is reconciled by reading the account's recent posts and
matching the text (X rewrites links to t.co, so links are compared as placeholders).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import tweepy
from requests_oauthlib import OAuth1  # type: ignore[import-untyped]

from digest.config import Settings, XChannel
from digest.models import Post
from digest.social.ledger import Ref
from digest.social.limits import URL
from digest.social.media import Fetcher, ImageError, prepare_image
from digest.social.publish import (
    DuplicatePost,
    PostRefused,
    RateLimited,
    SocialError,
    UncertainError,
)

X_IMAGE_MAX = 5_000_000
X_ALT_MAX = 1000  # characters of alt text X keeps
X_API = "https://api.x.com"
X_MEDIA_TIMEOUT = 30.0
RECENT_POSTS_CHECKED = 20
CLOCK_SKEW = timedelta(minutes=2)  # X's clock against ours, for the attempt window

# tweepy and oauthlib log request headers (Authorization) at DEBUG: never let them.
# Set explicitly, so a DEBUG root logger (e.g. --verbose) does not switch them on.
for _name in ("tweepy", "oauthlib", "requests_oauthlib"):
    _logger = logging.getLogger(_name)
    _logger.setLevel(max(_logger.level, logging.INFO))


def translate(exc: Exception) -> SocialError:
    if isinstance(exc, tweepy.TooManyRequests):
        reset = exc.response.headers.get("x-rate-limit-reset") if exc.response is not None else None
        reset_at = datetime.fromtimestamp(int(reset), tz=UTC) if reset and reset.isdigit() else None
        return RateLimited(f"X: 429 Too Many Requests (resets {reset_at})", reset_at)
    if isinstance(exc, tweepy.Forbidden) and any(
        "duplicate" in str(m).lower() for m in exc.api_messages
    ):
        return DuplicatePost(f"X: 403 {'; '.join(map(str, exc.api_messages))}")
    if isinstance(exc, tweepy.TwitterServerError):
        return UncertainError(f"X server error: {_status(exc)}")
    if isinstance(exc, requests.Timeout | requests.ConnectionError):
        return UncertainError(f"X: {type(exc).__name__}")
    if isinstance(exc, tweepy.HTTPException):
        return PostRefused(f"X refused: {_status(exc)} {'; '.join(map(str, exc.api_messages))}")
    return PostRefused(f"X: {type(exc).__name__}")


def _status(exc: tweepy.HTTPException) -> str:
    return str(getattr(exc.response, "status_code", "?"))


def comparable(text: str) -> str:
    """Text as X gives it back: NFC, links replaced, whitespace squeezed, HTML entities."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    return " ".join(URL.sub("<link>", text).split())


class XPublisher:
    platform = "x"

    def __init__(
        self,
        settings: Settings,
        channel: XChannel,
        *,
        fetch_image: Fetcher,
        session: requests.Session | None = None,
        api: Any = None,
    ) -> None:
        self.settings = settings
        self.channel = channel
        self.fetch_image = fetch_image
        self.session = session
        self._api = api
        self._client: tweepy.Client | None = None
        self._user_id: str | None = None
        self.warnings: list[str] = []

    @property
    def client(self) -> tweepy.Client:
        if self._client is None:
            client = tweepy.Client(
                consumer_key=self.channel.consumer_key.resolve(),
                consumer_secret=self.channel.consumer_secret.resolve(),
                access_token=self.channel.access_token.resolve(),
                access_token_secret=self.channel.access_token_secret.resolve(),
            )
            if self.session is not None:
                client.session = self.session
            self._client = client
        return self._client

    def new_key(self) -> None:
        return None

    def publish(self, post: Post, *, key: str | None, root: Ref | None, parent: Ref | None) -> Ref:
        media_ids = self._media(post)
        try:
            response = self.client.create_tweet(
                text=post.text,
                in_reply_to_tweet_id=parent.id if parent else None,
                media_ids=media_ids,
                user_auth=True,
            )
        except (tweepy.TweepyException, requests.RequestException) as exc:
            raise translate(exc) from None
        tweet_id = str(response.data["id"])
        return Ref(tweet_id, None, self.web_url(tweet_id))

    def lookup(
        self, post: Post, key: str | None, parent: Ref | None, since: datetime | None = None
    ) -> Ref | None:
        """This attempt's post among the account's most recent ones: the same text, in
        reply to the same parent (or to none), made since the attempt began (less a
        little clock skew). An identical post from an earlier edition never matches."""
        wanted = comparable(post.text)
        try:
            user_id = self._me()
            response = self.client.get_users_tweets(
                user_id,
                max_results=RECENT_POSTS_CHECKED,
                tweet_fields=["created_at", "referenced_tweets"],
                start_time=since - CLOCK_SKEW if since else None,
                user_auth=True,
            )
        except (tweepy.TweepyException, requests.RequestException) as exc:
            raise translate(exc) from None
        for tweet in response.data or ():
            if comparable(str(tweet["text"])) != wanted:
                continue
            if not _replies_to(tweet, parent) or not _made_since(tweet, since):
                continue
            tweet_id = str(tweet["id"])
            return Ref(tweet_id, None, self.web_url(tweet_id))
        return None

    def _me(self) -> str:
        if self._user_id is None:
            me = self.client.get_me(user_auth=True)
            self._user_id = str(me.data["id"])
        return self._user_id

    def web_url(self, tweet_id: str) -> str:
        return f"https://x.com/i/web/status/{tweet_id}"

    # -- optional image ------------------------------------------------------------
    # X retired the v1.1 upload.twitter.com endpoints tweepy 4.17's API.media_upload and
    # create_media_metadata call; API v2 has POST /2/media/upload and /2/media/metadata.
    # tweepy's Client has no v2 media calls (and its generic request sends JSON only),
    # so these two requests are made here, signed with the same OAuth 1.0a user context
    # (requests-oauthlib, which tweepy itself uses), through the same session.

    @property
    def oauth(self) -> OAuth1:
        return OAuth1(
            self.channel.consumer_key.resolve(),
            self.channel.consumer_secret.resolve(),
            self.channel.access_token.resolve(),
            self.channel.access_token_secret.resolve(),
        )

    def _media(self, post: Post) -> list[str] | None:
        """Upload the post's image with its alt text; a failure leaves the image out."""
        embed = post.embed
        if embed is None or not embed.thumb_url or not embed.thumb_alt.strip():
            return None
        try:
            image = prepare_image(self.fetch_image(embed.thumb_url), X_IMAGE_MAX)
            media_id = self._upload(image.data, image.mime)
            self._alt_text(media_id, embed.thumb_alt[:X_ALT_MAX])
        except (ImageError, SocialError, requests.RequestException) as exc:
            self.warnings.append(f"X image {embed.thumb_url} left out ({_brief(exc)})")
            return None
        return [media_id]

    def _upload(self, data: bytes, mime: str) -> str:
        """POST /2/media/upload (one request: images are under 5 MB): the media id."""
        extension = mime.split("/")[-1]
        response = self._session().post(
            f"{X_API}/2/media/upload",
            files={"media": (f"image.{extension}", data, mime)},
            data={"media_category": "tweet_image"},
            auth=self.oauth,
            timeout=X_MEDIA_TIMEOUT,
        )
        body = _json(response, "media upload")
        media_id = (body.get("data") or {}).get("id")
        if not isinstance(media_id, str) or not media_id.isdigit():
            raise PostRefused(f"X media upload: no media id in the answer ({response.status_code})")
        return media_id

    def _alt_text(self, media_id: str, alt: str) -> None:
        """POST /2/media/metadata: the image's alt text, for screen readers."""
        response = self._session().post(
            f"{X_API}/2/media/metadata",
            json={"id": media_id, "metadata": {"alt_text": {"text": alt}}},
            auth=self.oauth,
            timeout=X_MEDIA_TIMEOUT,
        )
        _json(response, "media metadata")

    def _session(self) -> requests.Session:
        if self.session is None:
            self.session = requests.Session()
        return self.session


def _json(response: requests.Response, what: str) -> dict[str, Any]:
    if response.status_code == 429:
        raise RateLimited(f"X {what}: 429 Too Many Requests", None)
    if not 200 <= response.status_code < 300:
        detail = response.text[:200].replace("\n", " ")
        raise PostRefused(f"X {what}: HTTP {response.status_code} {detail}")
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _field(tweet: Any, name: str) -> Any:
    data = getattr(tweet, "data", None)
    if isinstance(data, dict):
        return data.get(name)
    return tweet.get(name) if isinstance(tweet, dict) else getattr(tweet, name, None)


def _replies_to(tweet: Any, parent: Ref | None) -> bool:
    """The tweet answers ``parent`` (or, for a thread's first part, answers nothing)."""
    refs = _field(tweet, "referenced_tweets") or []
    replied = [
        str(r.get("id") if isinstance(r, dict) else getattr(r, "id", ""))
        for r in refs
        if (r.get("type") if isinstance(r, dict) else getattr(r, "type", None)) == "replied_to"
    ]
    return replied == ([parent.id] if parent else [])


def _made_since(tweet: Any, since: datetime | None) -> bool:
    if since is None:
        return True
    created = _field(tweet, "created_at")
    if isinstance(created, str):
        try:
            created = datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            return False
    return isinstance(created, datetime) and created >= since - CLOCK_SKEW


def _brief(exc: Exception) -> str:
    return re.sub(r"\s+", " ", f"{type(exc).__name__}: {exc}")[:200]
