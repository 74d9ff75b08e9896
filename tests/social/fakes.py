"""A fake X API v2 behind a requests adapter: real tweepy, scripted answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import requests
from requests.adapters import BaseAdapter

from digest.store import Store
from digest.store.tables import EditionRow


class FakeX(BaseAdapter):
    """Keeps posted tweets; ``failures`` are answers given to the next create calls."""

    def __init__(self) -> None:
        super().__init__()
        self.tweets: list[dict[str, str]] = []
        self.failures: list[Callable[[dict[str, object]], requests.Response] | None] = []
        self.creates = 0
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        self.requests.append(request)
        path = request.path_url.split("?")[0]
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
            recent = [
                {"id": t["id"], "text": t["text"], "edit_history_tweet_ids": [t["id"]]}
                for t in reversed(self.tweets)
            ]
            return respond(200, {"data": recent, "meta": {"result_count": len(recent)}})
        return respond(404, {"title": "Not Found Error", "detail": path})

    def create(self, body: dict[str, object]) -> requests.Response:
        tweet_id = str(1000 + len(self.tweets))
        text = str(body["text"])
        reply = body.get("reply") or {}
        assert isinstance(reply, dict)
        # X hands links back as t.co, which reconciliation has to see through
        shown = " ".join(
            "https://t.co/abc" if w.startswith("https://") else w for w in text.split(" ")
        )
        self.tweets.append(
            {"id": tweet_id, "text": shown, "reply_to": str(reply.get("in_reply_to_tweet_id", ""))}
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
