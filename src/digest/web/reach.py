"""The click redirect (``/r/<token>``) and the desk's reach reports.

The redirect checks the token's signature, queues the click and answers: it reads nothing
from the store, so a busy store never delays a reader and a click is never refused.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from digest.errors import DigestError
from digest.reach import charts
from digest.reach.clicks import ClickRecorder, machine_reason
from digest.reach.links import read_click_token, read_recipient_token
from digest.reach.report import edition_report, links_csv, trend, trend_csv
from digest.reach.social import refresh_bluesky_counts
from digest.web.desk import checked_post, signed_in
from digest.web.pages import page
from digest.web.state import now_of, settings_of, store_of

router = APIRouter()


def recorder_of(request: Request) -> ClickRecorder:
    recorder: ClickRecorder = request.app.state.clicks
    return recorder


@router.api_route("/r/{token}", methods=["GET", "HEAD"], include_in_schema=False)
async def follow_link(request: Request, token: str) -> Response:
    click = read_click_token(settings_of(request).signing_keys(), token)
    if click is None:
        return page(
            request,
            "message.html.j2",
            {
                "title": "Link not valid",
                "message": "This link is not one of ours, or it was changed on the way.",
            },
            status_code=404,
        )
    settings = settings_of(request)
    subscriber_id = None
    if settings.reach.clicks == "per_subscriber" and "r" in request.query_params:
        subscriber_id = read_recipient_token(settings.signing_keys(), request.query_params["r"])
    recorder = recorder_of(request)
    agent = request.headers.get("user-agent", "")
    address = request.client.host if request.client else ""
    recorder.record(
        click.edition_id,
        click.link,
        client=recorder.client_key(address, agent),
        reason=machine_reason(request.method, {k.lower(): v for k, v in request.headers.items()}),
        subscriber_id=subscriber_id,
    )
    return RedirectResponse(click.url, status_code=302, headers={"Cache-Control": "no-store"})


@router.get("/healthz", include_in_schema=False)
async def health() -> PlainTextResponse:
    return PlainTextResponse("ok")


def _not_found(request: Request, message: str) -> HTMLResponse:
    return page(
        request, "message.html.j2", {"title": "Not found", "message": message}, status_code=404
    )


@router.get("/desk/editions/{edition_id}/report", response_class=HTMLResponse)
def edition_report_page(request: Request, edition_id: int) -> Response:
    session = signed_in(request)
    settings = settings_of(request)
    with store_of(request).session() as db:
        try:
            report = edition_report(settings, db, edition_id)
        except DigestError as exc:
            return _not_found(request, str(exc))
    return page(
        request,
        "desk/report.html.j2",
        {
            "user": session.user,
            "csrf_token": session.csrf,
            "report": report,
            "newsletter": settings.newsletters.get(report.newsletter),
            "link_chart": charts.bars(
                [(link.label or link.url, link.clicks) for link in report.links[:20]],
                title="People's clicks per link",
            ),
            "section_chart": charts.bars(
                [(t.name, t.clicks) for t in report.sections], title="People's clicks per section"
            ),
            "mode": settings.reach.clicks,
        },
    )


@router.post("/desk/editions/{edition_id}/report/social")
async def refresh_social(request: Request, edition_id: int) -> Response:
    await checked_post(request)
    settings, store = settings_of(request), store_of(request)
    try:
        await run_in_threadpool(
            refresh_bluesky_counts, settings, store, edition_id, now_of(request)
        )
    except DigestError as exc:
        return page(
            request,
            "message.html.j2",
            {
                "title": "Could not read the counts",
                "message": str(exc),
                "back": f"/desk/editions/{edition_id}/report",
            },
            status_code=502,
        )
    return RedirectResponse(f"/desk/editions/{edition_id}/report", status_code=303)


@router.get("/desk/editions/{edition_id}/report.csv")
def edition_report_csv(request: Request, edition_id: int) -> Response:
    signed_in(request)
    with store_of(request).session() as db:
        try:
            report = edition_report(settings_of(request), db, edition_id)
        except DigestError as exc:
            return _not_found(request, str(exc))
    return _csv(links_csv(report), f"edition-{edition_id}-links.csv")


# before the page's route: its {newsletter} would match 'weekly.csv' too
@router.get("/desk/reports/{newsletter}.csv")
def trend_report_csv(request: Request, newsletter: str) -> Response:
    signed_in(request)
    settings = settings_of(request)
    if newsletter not in settings.newsletters:
        return _not_found(request, f"There is no newsletter '{newsletter}'.")
    with store_of(request).session() as db:
        reports = trend(settings, db, newsletter)
    return _csv(trend_csv(reports), f"{newsletter}-editions.csv")


@router.get("/desk/reports/{newsletter}", response_class=HTMLResponse)
def trend_page(request: Request, newsletter: str) -> Response:
    session = signed_in(request)
    settings = settings_of(request)
    if newsletter not in settings.newsletters:
        return _not_found(request, f"There is no newsletter '{newsletter}'.")
    with store_of(request).session() as db:
        reports = trend(settings, db, newsletter)
    return page(
        request,
        "desk/trend.html.j2",
        {
            "user": session.user,
            "csrf_token": session.csrf,
            "newsletter_id": newsletter,
            "newsletter": settings.newsletters[newsletter],
            "reports": reports,
            "delivered_chart": charts.columns(
                [(f"{r.period_end:%b} {r.period_end.day}", r.delivered) for r in reports],
                title="Delivered per edition",
            ),
            "clicks_chart": charts.columns(
                [(f"{r.period_end:%b} {r.period_end.day}", r.clicks_per_100) for r in reports],
                title="People's clicks per 100 delivered",
            ),
            "unsubscribe_chart": charts.columns(
                [(f"{r.period_end:%b} {r.period_end.day}", r.unsubscribes) for r in reports],
                title="Unsubscribes after each edition",
            ),
        },
    )


def _csv(body: str, filename: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
