"""The roster report: who on a grouped section's roster posted nothing this period, and
whose account could not be read, in the run report."""

from __future__ import annotations

import httpx
from tests.social.test_collect_cards import RICH

from digest.pipeline import run_newsletter


def state(name: str, code: str) -> dict[str, str]:
    return {"name": name, "kind": "state_federation", "state": code}


def test_the_run_report_names_quiet_and_unreadable_members(make_settings, store, now, tmp_path):
    empty = tmp_path / "iowa.xml"
    empty.write_text("<rss version='2.0'><channel><title>Iowa</title></channel></rss>")
    settings = make_settings(
        network={"allow_private": True},
        sources={
            "states-bsky": {
                "type": "bluesky",
                "accounts": [
                    {"handle": "mnafl.bsky.social", "origin": state("Minnesota AFL-CIO", "MN")},
                    {"handle": "texasaflcio.bsky.social", "origin": state("Texas AFL-CIO", "TX")},
                ],
            },
            "iowa": {"type": "feed", "path": str(empty), "origin": state("Iowa AFL-CIO", "IA")},
            "blog": {"type": "feed", "path": str(empty), "origin": {"name": "Our blog"}},
        },
        formats={
            "in_the_states": {
                "strategy": "grouped",
                "group_by": "origin",
                "title": "In the States",
                "template": "in_the_states",
                "select": {"kinds": ["state_federation"]},
            }
        },
        newsletters={
            "weekly": {
                "title": "Weekly",
                "schedule": "fri 16:00",
                "timezone": "America/New_York",
                "formats": ["in_the_states"],
            }
        },
    )

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("actor") == "texasaflcio.bsky.social":
            return httpx.Response(500, text="upstream failure")
        return httpx.Response(200, json={"feed": [{"post": RICH}]})

    report = run_newsletter(
        settings, "weekly", now=now, store=store, transport=httpx.MockTransport(handle)
    )
    roster = report.roster["In the States"]
    assert roster["quiet"] == ["Iowa AFL-CIO", "Texas AFL-CIO"]  # not Minnesota: it posted
    (failed,) = roster["failed"]
    assert failed.startswith("Texas AFL-CIO (@texasaflcio.bsky.social): ")
    assert "500" in failed
    assert "Our blog" not in str(roster)  # not a state federation: not on this roster
    assert report.to_dict()["roster"] == report.roster  # stored with the run
