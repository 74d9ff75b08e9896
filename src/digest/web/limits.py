"""Request body caps per route, counted as the body streams in (ASGI middleware).

Starlette reads a whole body (``request.body()``) or spools a whole upload
(``request.form()``) before a handler can look at it: a 1 GB POST to ``/u/<token>``
took the server to 2.1 GB, and ``/desk/login`` spooled a 500 MB upload. Here every
request's body is counted chunk by chunk as the handler reads it; past its route's cap
the request is answered 413 and nothing more is read. A declared Content-Length over
the cap is refused before the handler runs.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KB = 1024
# (path pattern, cap in bytes), first match wins. The public forms hold a few fields;
# the desk's edit forms hold an edition's intro and story choices.
ROUTE_CAPS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"^/u/"), 4 * KB),  # one-click: "List-Unsubscribe=One-Click"
    (re.compile(r"^/confirm/"), 4 * KB),
    (re.compile(r"^/desk/login$"), 8 * KB),
    (re.compile(r"^/(subscribe|p/)"), 16 * KB),
    (re.compile(r"^/desk/"), 256 * KB),
)
DEFAULT_CAP = 16 * KB


def cap_for(path: str) -> int:
    for pattern, cap in ROUTE_CAPS:
        if pattern.search(path):
            return cap
    return DEFAULT_CAP


class BodyTooLarge(Exception):
    """Raised inside the app when its request body passes the route's cap."""


class BodyLimit:
    """Answers 413 once a request body passes its route's cap (see ``cap_for``)."""

    def __init__(self, app: ASGIApp, caps: Callable[[str], int] = cap_for) -> None:
        self.app = app
        self.caps = caps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.caps(scope.get("path", ""))
        if _declared_length(scope) > cap:
            await _too_large(send, cap)
            return
        state = {"read": 0, "tripped": False, "started": False}

        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["read"] += len(message.get("body", b""))
                if state["read"] > cap:
                    state["tripped"] = True
                    raise BodyTooLarge(f"request body over {cap} bytes")
            return message

        async def guarded_send(message: Message) -> None:
            if state["tripped"]:
                return  # whatever the app answers after the cap, the answer is 413
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:  # BodyTooLarge, possibly in an ExceptionGroup from a middleware
            if not state["tripped"]:
                raise
        if state["tripped"] and not state["started"]:
            await _too_large(send, cap)


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _too_large(send: Send, cap: int) -> None:
    body = f"Request too large: at most {cap} bytes here.\n".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
