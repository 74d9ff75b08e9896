"""What an edition did, through `digest report`, the desk's report pages and their CSV."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from digest.cli import app as cli
from digest.web import create_app
from digest.web.auth import hash_password

from .conftest import STAFF_PASSWORD, STORIES, Sent


def report_json(sent: Sent, *args: str) -> Any:
    result = CliRunner().invoke(
        cli, ["--config", str(sent.config_path), "report", "weekly", *args, "--json"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_the_cli_report_counts_what_the_edition_did(week_with_readers: Sent) -> None:
    data = report_json(week_with_readers)
    assert data["edition_id"] == week_with_readers.edition_id
    assert data["deliveries"] == {"delivered": 4}
    assert (data["unsubscribes"], data["bounced"], data["complaints"]) == (1, 1, 0)
    by_url = {link["url"]: link for link in data["links"]}
    first = by_url[STORIES[0][1]]
    assert (first["clicks"], first["machine"], first["label"]) == (2, 0, STORIES[0][0])
    assert (by_url[STORIES[1][1]]["clicks"], by_url[STORIES[1][1]]["machine"]) == (0, 1)
    assert data["totals"] == {
        "delivered": 4,
        "clicks": 2,
        "machine_clicks": 1,
        "clicks_per_100_delivered": 50.0,
    }
    assert next(s["name"] for s in data["sections"]) == "Weekly List"
    assert not any("@" in str(value) for value in _values(data)), "a person is named"


def _values(data: Any) -> list[Any]:
    if isinstance(data, dict):
        return [v for value in data.values() for v in _values(value)]
    if isinstance(data, list):
        return [v for value in data for v in _values(value)]
    return [data]


def test_the_trend_and_a_wrong_name(week_with_readers: Sent) -> None:
    rows = report_json(week_with_readers, "--trend")
    assert [(r["edition_id"], r["totals"]["clicks"]) for r in rows] == [
        (week_with_readers.edition_id, 2)
    ]
    result = CliRunner().invoke(
        cli, ["--config", str(week_with_readers.config_path), "report", "weekyl"]
    )
    assert result.exit_code == 1 and "unknown newsletter 'weekyl'" in result.output


def _signed_in(sent: Sent, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("DIGEST_TEST_STAFF_HASH", hash_password(STAFF_PASSWORD, n=2**10))
    client = TestClient(create_app(sent.settings, sent.store), follow_redirects=False)
    login = client.get("/desk/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert token is not None
    response = client.post(
        "/desk/login",
        data={"email": "ed@example.org", "password": STAFF_PASSWORD, "csrf_token": token[1]},
    )
    assert response.status_code == 303, response.text
    return client


def test_the_desk_report_pages_chart_and_export(
    week_with_readers: Sent, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _signed_in(week_with_readers, monkeypatch)
    edition = week_with_readers.edition_id
    page = client.get(f"/desk/editions/{edition}/report")
    assert page.status_code == 200
    assert "<svg" in page.text and 'role="img"' in page.text
    assert "2 clicks by people" in page.text and "1 more by link scanners" in page.text
    assert "never per person" in page.text
    exported = client.get(f"/desk/editions/{edition}/report.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {(r["url"], r["clicks"], r["machine_clicks"]) for r in rows} >= {
        (STORIES[0][1], "2", "0"),
        (STORIES[1][1], "0", "1"),
    }
    trend = client.get("/desk/reports/weekly")
    assert trend.status_code == 200 and trend.text.count("<svg") == 3
    trend_csv = list(csv.reader(io.StringIO(client.get("/desk/reports/weekly.csv").text)))
    assert trend_csv[0][0] == "edition" and trend_csv[1][0] == str(edition)
    assert client.get("/desk/reports/nope").status_code == 404


def test_the_report_pages_need_a_signed_in_session(week_with_readers: Sent) -> None:
    client = TestClient(
        create_app(week_with_readers.settings, week_with_readers.store), follow_redirects=False
    )
    edition = week_with_readers.edition_id
    for path in (f"/desk/editions/{edition}/report", f"/desk/editions/{edition}/report.csv"):
        assert client.get(path).status_code == 303  # to the sign-in page
