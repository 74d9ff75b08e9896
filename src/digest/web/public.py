"""Public pages: sign up, confirm, one-click unsubscribe (RFC 8058) and preferences.

None of these pages sets or reads a cookie: the signed token in the URL is the only
authority, which is what RFC 8058 requires of the one-click endpoint.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from digest.delivery.tokens import BadToken, read_token
from digest.errors import DigestError
from digest.render.templates import render
from digest.subscribers import InvalidAddress
from digest.subscriptions import (
    PAUSE_CHOICES,
    SubscriptionError,
    confirm_link_used,
    confirm_subscription,
    consent_version,
    load_preferences,
    may_offer_preferences,
    newsletter_lists,
    one_click_unsubscribe,
    preferences_token,
    read_subscriber_token,
    request_subscription,
    unsubscribe_all,
    update_preferences,
)
from digest.web.pages import page
from digest.web.state import now_of, renderer_of, settings_of, store_of

router = APIRouter()

HONEYPOT_FIELD = "website"  # hidden from people; bots that fill every field fill it
SUBSCRIBE_FORM = "web/subscribe"
PAUSE_LABELS = {"2w": "2 weeks", "1m": "1 month", "3m": "3 months"}


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def consent_text(request: Request) -> str:
    return render(request.app.state.env, "web/consent.txt.j2", {}).strip()


def _bad_link(request: Request, exc: BadToken) -> HTMLResponse:
    expired = "expired" in str(exc)
    return page(
        request,
        "link_problem.html.j2",
        {"message": str(exc), "expired": expired},
        status_code=410 if expired else 400,
    )


# --- subscribe --------------------------------------------------------------------------


def _subscribe_form(
    request: Request,
    *,
    status_code: int = 200,
    error: str | None = None,
    values: dict[str, Any] | None = None,
) -> HTMLResponse:
    settings = settings_of(request)
    chosen = (values or {}).get("lists") or request.query_params.getlist("list")
    return page(
        request,
        "subscribe.html.j2",
        {
            "newsletters": newsletter_lists(settings),
            "chosen": set(chosen),
            "consent": consent_text(request),
            "error": error,
            "values": values or {},
            "honeypot": HONEYPOT_FIELD,
        },
        status_code=status_code,
    )


@router.get("/subscribe", response_class=HTMLResponse)
def subscribe_form(request: Request) -> HTMLResponse:
    return _subscribe_form(request)


@router.post("/subscribe", response_class=HTMLResponse)
async def subscribe_submit(request: Request) -> HTMLResponse:
    if not request.app.state.signup_limiter.allow(client_ip(request)):
        return page(
            request,
            "message.html.j2",
            {
                "title": "Too many sign-ups from here",
                "message": "Please wait a minute and try again.",
            },
            status_code=429,
            headers={"Retry-After": "60"},
        )
    form = await request.form()
    email = str(form.get("email", "")).strip()
    values: dict[str, Any] = {
        "email": email,
        "name": str(form.get("name", "")).strip(),
        "lists": [str(v) for v in form.getlist("lists")],
    }
    if str(form.get(HONEYPOT_FIELD, "")).strip():
        return _check_inbox(request, email)  # a bot: answer as usual, do nothing
    error = _signup_problem(values)
    if error is None:
        try:
            await _request(request, values)
        except InvalidAddress:
            error = "Please enter your email address in the form name@example.org."
        except SubscriptionError as exc:
            error = f"{str(exc).capitalize()}."
        except DigestError:
            return page(
                request,
                "message.html.j2",
                {
                    "title": "Sign-up is not working right now",
                    "message": "We could not send the confirmation email. Please try again later.",
                },
                status_code=503,
            )
    if error is not None:
        return _subscribe_form(request, status_code=400, error=error, values=values)
    return _check_inbox(request, email)


def _signup_problem(values: dict[str, Any]) -> str | None:
    if not values["email"]:
        return "Please enter your email address."
    if not values["lists"]:
        return "Please choose at least one newsletter."
    return None


async def _request(request: Request, values: dict[str, Any]) -> None:
    await run_in_threadpool(
        request_subscription,
        settings_of(request),
        store_of(request),
        email=values["email"],
        name=values["name"],
        lists=tuple(values["lists"]),
        form=SUBSCRIBE_FORM,
        consent_text_version=consent_version(consent_text(request)),
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        now=now_of(request),
        renderer=renderer_of(request),
    )


def _check_inbox(request: Request, email: str) -> HTMLResponse:
    """The same answer whether the address is new, known, suppressed or a bot's."""
    return page(request, "subscribe_sent.html.j2", {"email": email})


# --- confirm ----------------------------------------------------------------------------


@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, token: str) -> HTMLResponse:
    """Show a button: link scanners that fetch the link must not confirm for someone."""
    try:
        read_token(settings_of(request).signing_keys(), "confirm", token)
        if confirm_link_used(store_of(request), token):
            raise BadToken("this link was already used")
    except BadToken as exc:
        return _bad_link(request, exc)
    return page(request, "confirm.html.j2", {"token": token})


@router.post("/confirm/{token}", response_class=HTMLResponse)
def confirm_submit(request: Request, token: str) -> HTMLResponse:
    settings = settings_of(request)
    try:
        done = confirm_subscription(settings, store_of(request), token, now_of(request))
    except BadToken as exc:
        return _bad_link(request, exc)
    titles = newsletter_lists(settings)
    prefs = preferences_token(settings, done.subscriber_id, done.lists[0]) if done.lists else None
    return page(
        request,
        "confirmed.html.j2",
        {"newsletters": [titles.get(n, n) for n in done.lists], "preferences_token": prefs},
    )


# --- one-click unsubscribe (RFC 8058) ---------------------------------------------------


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
    """GET changes nothing (mail scanners fetch links); it shows a button that POSTs."""
    settings = settings_of(request)
    try:
        subscriber_id, list_name = read_subscriber_token(settings, "unsubscribe", token)
    except BadToken as exc:
        return _bad_link(request, exc)
    return _unsubscribe_page(request, token, subscriber_id, list_name, done=False)


@router.post("/u/{token}", response_class=HTMLResponse)
async def unsubscribe_post(request: Request, token: str) -> Response:
    """One click: 200 and unsubscribed, never a redirect; repeating it is 200 too.
    The token is checked before any of the body is read."""
    settings = settings_of(request)
    try:
        subscriber_id, list_name = read_subscriber_token(settings, "unsubscribe", token)
    except BadToken as exc:
        return _bad_link(request, exc)
    if not await _is_one_click(request):
        return page(
            request,
            "link_problem.html.j2",
            {"message": "The request did not say List-Unsubscribe=One-Click.", "expired": False},
            status_code=400,
        )
    try:
        await run_in_threadpool(
            one_click_unsubscribe, settings, store_of(request), token, now_of(request)
        )
    except BadToken as exc:
        return _bad_link(request, exc)
    return _unsubscribe_page(request, token, subscriber_id, list_name, done=True)


def _unsubscribe_page(
    request: Request,
    token: str,
    subscriber_id: int,
    list_name: str,
    *,
    done: bool,
) -> HTMLResponse:
    """The unsubscribe page: a button before (GET), the confirmation after (POST)."""
    settings = settings_of(request)
    offer = may_offer_preferences(settings, token)
    return page(
        request,
        "unsubscribe.html.j2",
        {
            "token": token,
            "newsletter": newsletter_lists(settings).get(list_name, list_name),
            "preferences_token": (
                preferences_token(settings, subscriber_id, list_name) if offer else None
            ),
            "done": done,
        },
    )


async def _is_one_click(request: Request) -> bool:
    """The body carries List-Unsubscribe=One-Click, urlencoded or multipart (RFC 8058 §3.1)."""
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        try:
            form: FormData = await request.form()
        except Exception:  # a malformed body is simply not a one-click request
            return False
        return str(form.get("List-Unsubscribe", "")).strip() == "One-Click"
    return body.strip() == b"List-Unsubscribe=One-Click"


# --- preferences ------------------------------------------------------------------------


@router.get("/p/{token}", response_class=HTMLResponse)
def preferences_page(request: Request, token: str) -> HTMLResponse:
    return _preferences(request, token, saved=request.query_params.get("saved"))


def _preferences(
    request: Request, token: str, *, saved: str | None = None, error: str | None = None
) -> HTMLResponse:
    settings = settings_of(request)
    try:
        subscriber_id, _ = read_subscriber_token(settings, "preferences", token)
    except BadToken as exc:
        return _bad_link(request, exc)
    prefs = load_preferences(store_of(request), subscriber_id)
    if prefs is None:
        return _bad_link(request, BadToken("this subscriber is no longer on file"))
    now = now_of(request)
    paused = prefs.paused_until if prefs.paused_until and prefs.paused_until > now else None
    return page(
        request,
        "preferences.html.j2",
        {
            "token": token,
            "prefs": prefs,
            "paused_until": paused,
            "newsletters": newsletter_lists(settings),
            "pause_labels": PAUSE_LABELS,
            "saved": saved,
            "error": error,
        },
        status_code=400 if error else 200,
    )


@router.post("/p/{token}", response_class=HTMLResponse)
async def preferences_submit(request: Request, token: str) -> Response:
    settings = settings_of(request)
    try:
        subscriber_id, _ = read_subscriber_token(settings, "preferences", token)
    except BadToken as exc:
        return _bad_link(request, exc)
    form = await request.form()
    try:
        if form.get("action") == "unsubscribe_all":
            await run_in_threadpool(
                unsubscribe_all, store_of(request), subscriber_id, now_of(request)
            )
            saved = "all"
        else:
            pause = str(form.get("pause", "")) or None
            if pause is not None and pause not in (*PAUSE_CHOICES, "resume"):
                raise SubscriptionError("unknown pause choice")
            await run_in_threadpool(
                lambda: update_preferences(
                    settings,
                    store_of(request),
                    subscriber_id,
                    lists=tuple(str(v) for v in form.getlist("lists")),
                    pause=pause,
                    now=now_of(request),
                    ip=client_ip(request),
                    user_agent=request.headers.get("user-agent"),
                    consent_text_version=consent_version(consent_text(request)),
                )
            )
            saved = "yes"
    except SubscriptionError as exc:
        return _preferences(request, token, error=f"{str(exc).capitalize()}.")
    # Post/redirect/get: reloading the page does not resubmit the form.
    return RedirectResponse(f"/p/{token}?saved={saved}", status_code=303)
