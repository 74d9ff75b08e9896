"""The editor's CLI: every control, refusals, recompose after a collect, the Thursday run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .conftest import FRIDAY_SEND, THURSDAY, Invoke, subscribe, write_feed

AT = ("--at", THURSDAY)


def draft(cli: Invoke) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cli("draft", "weekly", "--json", *AT).output)
    return data


def keys(data: dict[str, Any], section: str) -> list[str]:
    for s in data["sections"]:
        if s["format_id"] == section:
            return [i["key"] for i in s["items"] if not i["dropped"]]
    raise AssertionError(section)


def titles(data: dict[str, Any], section: str) -> list[str]:
    for s in data["sections"]:
        if s["format_id"] == section:
            return [i["title"] for i in s["items"] if not i["dropped"]]
    raise AssertionError(section)


def maildir_files(tmp_path: Path) -> list[Path]:
    new = tmp_path / "out" / "outbox" / "new"
    return sorted(new.iterdir()) if new.exists() else []


def test_thursday_run_drafts_fridays_edition_and_sends_nothing(cli: Invoke, tmp_path: Path) -> None:
    subscribe(tmp_path, cli, "ana@example.net")
    result = cli("run", "weekly", *AT)
    assert "2026-11-20T16:00-05:00): draft" in result.output
    assert "nothing sent now" in result.output
    assert maildir_files(tmp_path) == []
    data = draft(cli)
    assert data["status"] == "draft" and data["period_key"] == "2026-11-20T16:00-05:00"


def test_draft_lists_sections_and_stable_ids(cli: Invoke) -> None:
    cli("collect", *AT)
    first = draft(cli)
    assert titles(first, "weekly_list") == ["Charlie vote", "Bravo contract", "Alpha strike ends"]
    assert keys(draft(cli), "weekly_list") == keys(first, "weekly_list")
    text = cli("draft", "weekly", *AT).output
    for key in keys(first, "weekly_list"):
        assert key in text
    assert "[in_the_states] In the States" in text


def test_every_text_control_shows_in_the_email(cli: Invoke, tmp_path: Path) -> None:
    cli("collect", *AT)
    assert "headline set to" in cli("edit", "headline", "weekly", "Let Us Work", *AT).output
    cli("edit", "preheader", "weekly", "Strikes, wins and a vote", *AT)
    cli("edit", "note", "weekly", "Thanks for reading.\n\nSee you Friday.", *AT)
    cli("edit", "intro", "weekly", "weekly_list", "Top stories this week.", *AT)
    data = draft(cli)
    assert data["headline"] == "Let Us Work"
    assert data["subject"] == "Let Us Work (November 20, 2026)"  # {headline} in the template
    cli("edit", "subject", "weekly", "A subject of my own", *AT)
    assert draft(cli)["subject"] == "A subject of my own"
    out = tmp_path / "preview"
    cli("preview", "weekly", "--out", str(out), *AT)
    html = (out / "weekly.html").read_text()
    text = (out / "weekly.txt").read_text()
    web = (out / "weekly.web.html").read_text()
    assert ">Let Us Work</h1>" in html and "<h1>Let Us Work</h1>" in web
    assert "Strikes, wins and a vote" in html  # the hidden preheader
    assert "Thanks for reading." in html and "See you Friday." in text
    assert "Top stories this week." in html and "Top stories this week." in web


def test_drop_restore_move_pin_and_edit_items(cli: Invoke, tmp_path: Path) -> None:
    cli("collect", *AT)
    c, b, a = keys(draft(cli), "weekly_list")
    assert "dropped" in cli("edit", "drop", "weekly", b, *AT).output
    assert keys(draft(cli), "weekly_list") == [c, a]
    cli("edit", "restore", "weekly", b, *AT)
    assert keys(draft(cli), "weekly_list") == [c, b, a]
    cli("edit", "move", "weekly", a, "up", *AT)
    assert keys(draft(cli), "weekly_list") == [c, a, b]
    cli("edit", "move", "weekly", c, "3", *AT)
    assert keys(draft(cli), "weekly_list") == [a, b, c]
    cli("edit", "move", "weekly", a, "down", *AT)
    assert keys(draft(cli), "weekly_list") == [b, a, c]
    cli("edit", "pin", "weekly", c, *AT)
    assert keys(draft(cli), "weekly_list")[0] == c
    cli("edit", "unpin", "weekly", c, *AT)
    result = cli(
        "edit",
        "item",
        "weekly",
        a,
        "--title",
        "Alpha strike won",
        "--excerpt",
        "Fixed <script>alert(1)</script><b>text</b>",
        *AT,
    )
    assert "edited" in result.output
    out = tmp_path / "p"
    cli("preview", "weekly", "--out", str(out), *AT)
    html = (out / "weekly.html").read_text()
    assert "Alpha strike won" in html and "<b" in html and "alert(1)" not in html


def test_move_to_another_section(cli: Invoke) -> None:
    cli("collect", *AT)
    c = keys(draft(cli), "weekly_list")[0]
    cli("edit", "move", "weekly", c, "top", "--section", "in_the_states", *AT)
    data = draft(cli)
    assert c not in keys(data, "weekly_list") and c in keys(data, "in_the_states")


def test_pick_groups_and_their_order(cli: Invoke) -> None:
    cli("collect", *AT)
    cli("edit", "groups", "weekly", "in_the_states", "Texas AFL-CIO", *AT)
    section = next(s for s in draft(cli)["sections"] if s["format_id"] == "in_the_states")
    assert section["groups_shown"] == ["Texas AFL-CIO"]
    cli("edit", "groups", "weekly", "in_the_states", "Texas AFL-CIO", "Ohio AFL-CIO", *AT)
    section = next(s for s in draft(cli)["sections"] if s["format_id"] == "in_the_states")
    assert section["groups_shown"] == ["Texas AFL-CIO", "Ohio AFL-CIO"]
    bad = cli("edit", "groups", "weekly", "in_the_states", "Utah", *AT, ok=False)
    assert bad.exit_code == 1 and "no group 'Utah'" in bad.output and "Ohio AFL-CIO" in bad.output


def test_unknown_ids_name_it_and_list_the_valid_ones(cli: Invoke) -> None:
    cli("collect", *AT)
    valid = keys(draft(cli), "weekly_list")
    result = cli("edit", "drop", "weekly", "i999", *AT, ok=False)
    assert result.exit_code == 1
    assert "no item 'i999'" in result.output
    assert all(key in result.output for key in valid)
    section = cli("edit", "intro", "weekly", "nope", "x", *AT, ok=False)
    assert "no section 'nope'" in section.output and "weekly_list" in section.output


def test_add_url_fills_from_the_page(cli: Invoke, page_server: str) -> None:
    cli("collect", *AT)
    result = cli("edit", "add-url", "weekly", "weekly_list", page_server + "/story", *AT)
    assert "added a1" in result.output and "Nurses win staffing ratios" in result.output
    data = draft(cli)
    added = next(i for s in data["sections"] for i in s["items"] if i["key"] == "a1")
    assert added["summary"] == "<p>A first contract after two years.</p>"
    assert added["origin"] == "Union Times"


def test_add_unreachable_url_gives_an_item_to_fill_in(cli: Invoke, page_server: str) -> None:
    cli("collect", *AT)
    result = cli("edit", "add-url", "weekly", "weekly_list", page_server + "/missing", *AT)
    assert "could not fill in" in result.output and "HTTP 404" in result.output
    cli("edit", "item", "weekly", "a1", "--title", "Typed by hand", "--excerpt", "Words", *AT)
    assert "Typed by hand" in titles(draft(cli), "weekly_list")


def test_a_collect_between_two_edits_keeps_both(cli: Invoke, org: dict[str, Any]) -> None:
    cli("collect", *AT)
    c, b, a = keys(draft(cli), "weekly_list")
    cli("edit", "drop", "weekly", b, *AT)
    write_feed(
        org["feeds"]["news"],
        "news",
        ["Alpha strike ends", "Bravo contract", "Charlie vote", "Delta organizes", "Echo wins"],
    )
    cli("collect", *AT)
    cli("edit", "headline", "weekly", "Second edit", *AT)
    data = draft(cli)
    listed = titles(data, "weekly_list")
    assert "Delta organizes" in listed and "Echo wins" in listed  # the collect's new items
    assert "Bravo contract" not in listed  # the first edit
    assert data["headline"] == "Second edit"  # the second edit


def test_approve_freezes_then_edit_reopens_then_sending_refuses(
    cli: Invoke, tmp_path: Path
) -> None:
    subscribe(tmp_path, cli, "ana@example.net")
    cli("collect", *AT)
    cli("edit", "headline", "weekly", "Approved words", *AT)
    cli("approve", "weekly", *AT)
    assert draft(cli)["status"] == "approved"
    reopened = cli("edit", "headline", "weekly", "Changed after approval", *AT)
    assert "needs approval again" in reopened.output
    assert draft(cli)["status"] == "draft"
    cli("approve", "weekly", *AT)
    history = cli("edit", "history", "weekly", *AT).output
    assert "approve draft → approved" in history and "reopen approved → draft" in history
    cli("run", "weekly", "--at", FRIDAY_SEND, "--no-collect")
    files = maildir_files(tmp_path)
    assert len(files) == 1 and "Changed after approval" in files[0].read_text()
    edition = draft(cli)["edition_id"] if False else 1
    refused = cli(
        "edit", "headline", "weekly", "Too late", "--edition", str(edition), *AT, ok=False
    )
    assert refused.exit_code == 1 and "sending has started" in refused.output


def test_lifecycle_refuses_illegal_transitions(cli: Invoke, tmp_path: Path) -> None:
    subscribe(tmp_path, cli, "ana@example.net")
    cli("collect", *AT)
    cli("run", "weekly", "--at", FRIDAY_SEND, "--no-collect")
    again = cli("approve", "weekly", "--edition", "1", *AT, ok=False)
    assert again.exit_code == 1
    assert "is already sent; it cannot become approved" in again.output


def test_stale_period_is_not_sent_without_late(cli: Invoke, tmp_path: Path) -> None:
    subscribe(tmp_path, cli, "ana@example.net")
    cli("collect", "--at", "2026-11-20T10:00-05:00")  # Friday's draft exists; nobody ran it
    saturday = ("--at", "2026-11-21T12:00-05:00")
    result = cli("run", "weekly", "--no-collect", *saturday, ok=False)
    assert result.exit_code == 1, result.output
    assert "would have gone to 1 subscribers" in result.output
    assert "digest run weekly --late" in result.output
    assert maildir_files(tmp_path) == []
    cli("run", "weekly", "--no-collect", "--late", *saturday)
    assert len(maildir_files(tmp_path)) == 1
