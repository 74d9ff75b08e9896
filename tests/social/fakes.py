"""A fake X API (v2 posts, v1.1 media upload) behind a requests adapter: real tweepy,
scripted answers in the shapes X documents."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import requests
from requests.adapters import BaseAdapter

from digest.social.publish import Clock
from digest.store import Store
from digest.store.tables import EditionRow

UPLOAD_HOST = "https://upload.twitter.com/"
NOW = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
X_CHANNEL = {
    "type": "x",
    "consumer_key": "${X_CONSUMER_KEY}",
    "consumer_secret": "${X_CONSUMER_SECRET}",
    "access_token": "${X_ACCESS_TOKEN}",
    "access_token_secret": "${X_ACCESS_TOKEN_SECRET}",
}
X_SECRETS = ("X_CONSUMER_KEY", "X_CONSUMER_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")


class FakeClock(Clock):
    """A clock that starts at NOW and moves only when slept; every sleep is recorded."""

    def __init__(self) -> None:
        self.moment = NOW
        self.slept: list[float] = []
        super().__init__(now=lambda: self.moment, sleep=self._sleep)

    def _sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.moment += timedelta(seconds=seconds)


class FakeX(BaseAdapter):
    """Keeps posted tweets; ``failures`` are answers given to the next create calls."""

    def __init__(self) -> None:
        super().__init__()
        self.tweets: list[dict[str, str]] = []
        self.failures: list[Callable[[dict[str, object]], requests.Response] | None] = []
        self.creates = 0
        self.requests: list[requests.PreparedRequest] = []
        self.uploads: list[bytes] = []  # multipart bodies sent to media/upload.json
        self.metadata: list[dict[str, object]] = []  # JSON bodies of media/metadata/create
        self.metadata_failures: list[requests.Response] = []
        self.now = NOW  # what X stamps as created_at on new posts

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        self.requests.append(request)
        path = request.path_url.split("?")[0]
        if (request.url or "").startswith(UPLOAD_HOST):
            return respond(404, {"errors": [{"code": 34, "message": "retired: use API v2"}]})
        if path.startswith("/2/media/"):
            return self.media(request, path)
        if request.method == "POST" and path == "/2/tweets":
            body = json.loads(request.body or b"{}")
            self.creates += 1
            failure = self.failures.pop(0) if self.failures else None
            if failure is not None:
                return failure(body)
            return self.create(body)
        if path == "/2/users/me":
            return respond(200, {"data": {"id": "42", "name": "Fed", "username": "fed"}})
        if path == "/2/users/42/tweets":
            recent = [self.timeline_entry(t) for t in reversed(self.tweets)]
            return respond(200, {"data": recent, "meta": {"result_count": len(recent)}})
        return respond(404, {"title": "Not Found Error", "detail": path})

    def media(self, request: requests.PreparedRequest, path: str) -> requests.Response:
        """API v2 media: POST /2/media/upload (multipart 'media' and 'media_category'),
        then POST /2/media/metadata with the alt text, answered as X's spec describes."""
        assert "OAuth " in str(request.headers.get("Authorization", ""))  # user context
        if request.method == "POST" and path == "/2/media/upload":
            body = request.body if isinstance(request.body, bytes) else b""
            self.uploads.append(body)
            media_id = str(1860000000000000000 + len(self.uploads))
            return respond(
                200,
                {
                    "data": {
                        "id": media_id,
                        "media_key": f"3_{media_id}",
                        "size": len(body),
                        "expires_after_secs": 86400,
                        "image": {"image_type": "image/png", "w": 8, "h": 8},
                    }
                },
            )
        if request.method == "POST" and path == "/2/media/metadata":
            self.metadata.append(json.loads(request.body or b"{}"))
            if self.metadata_failures:
                return self.metadata_failures.pop(0)
            return respond(200, {"data": {"associated_metadata": True, "id": "1"}})
        return respond(404, {"title": "Not Found Error", "detail": path})

    @staticmethod
    def timeline_entry(tweet: dict[str, str]) -> dict[str, object]:
        """A post as GET /2/users/:id/tweets gives it (tweet.fields created_at and
        referenced_tweets)."""
        entry: dict[str, object] = {
            "id": tweet["id"],
            "text": tweet["text"],
            "edit_history_tweet_ids": [tweet["id"]],
            "created_at": tweet.get("created_at", NOW.strftime("%Y-%m-%dT%H:%M:%S.000Z")),
        }
        if tweet.get("reply_to"):
            entry["referenced_tweets"] = [{"type": "replied_to", "id": tweet["reply_to"]}]
        return entry

    def create(self, body: dict[str, object]) -> requests.Response:
        tweet_id = str(1000 + len(self.tweets))
        text = str(body["text"])
        reply = body.get("reply") or {}
        assert isinstance(reply, dict)
        # X hands links back as t.co, which reconciliation has to see through
        shown = " ".join(
            "https://t.co/abc" if w.startswith("https://") else w for w in text.split(" ")
        )
        media = body.get("media") or {}
        assert isinstance(media, dict)
        self.tweets.append(
            {
                "id": tweet_id,
                "text": shown,
                "reply_to": str(reply.get("in_reply_to_tweet_id", "")),
                "media_ids": ",".join(map(str, media.get("media_ids", []))),
                "created_at": self.now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            }
        )
        return respond(201, {"data": {"id": tweet_id, "text": shown}})

    def close(self) -> None:
        pass


def respond(
    status: int, body: dict[str, object], headers: dict[str, str] | None = None
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers.update({"content-type": "application/json", **(headers or {})})
    response.reason = {
        200: "OK",
        201: "Created",
        400: "Bad Request",
        403: "Forbidden",
        429: "Too Many Requests",
        503: "Service Unavailable",
    }.get(status, "")
    return response


def rate_limited(reset: int) -> Callable[[dict[str, object]], requests.Response]:
    return lambda body: respond(
        429, {"title": "Too Many Requests", "status": 429}, {"x-rate-limit-reset": str(reset)}
    )


def server_error(body: dict[str, object]) -> requests.Response:
    return respond(503, {"title": "Service Unavailable", "status": 503})


def session_for(fake: FakeX) -> requests.Session:
    session = requests.Session()
    session.mount("https://", fake)
    return session


def stored_edition(store: Store, status: str = "approved") -> int:
    with store.session() as session:
        row = EditionRow(
            newsletter="weekly",
            period_key="2026-11-20T16:00-05:00",
            period_start=datetime(2026, 11, 13, 21, tzinfo=UTC),
            period_end=datetime(2026, 11, 20, 21, tzinfo=UTC),
            title="Weekly",
            subject="Weekly",
            status=status,
            sections=[],
            html="",
            text="",
            web_html="",
            created_at=datetime(2026, 11, 20, 21, tzinfo=UTC),
        )
        session.add(row)
        session.flush()
        return row.id
