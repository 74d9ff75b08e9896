"""`digest check-config`: one account per platform per newsletter.

Posted parts are recorded per (edition, platform, part), so a second Bluesky or X
account on the same newsletter would find the first account's parts 'posted' and
silently post nothing. The config check refuses it instead.
"""

from __future__ import annotations

import yaml
from tests.conftest import minimal_config
from tests.social.fakes import X_CHANNEL
from typer.testing import CliRunner

from digest.cli import app


def bluesky(handle: str) -> dict[str, str]:
    return {"type": "bluesky", "handle": handle, "app_password": "${BSKY_APP_PASSWORD}"}


def check(tmp_path, channels: dict[str, dict[str, str]], on_weekly: list[str]):
    raw = minimal_config(tmp_path)
    raw["channels"].update(channels)
    raw["newsletters"]["weekly"]["channels"] = ["email", *on_weekly]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return CliRunner().invoke(app, ["--config", str(path), "check-config"])


def test_two_bluesky_accounts_on_one_newsletter_are_refused(tmp_path):
    result = check(
        tmp_path,
        {"bsky_fed": bluesky("fed.bsky.social"), "bsky_alt": bluesky("alt.bsky.social")},
        ["bsky_fed", "bsky_alt"],
    )
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"{tmp_path / 'config.yaml'}: 1 problem",
        "  newsletters.weekly.channels: 'bsky_fed' and 'bsky_alt' both post to bluesky; a "
        "newsletter can post to one bluesky account (its posts are recorded per edition, "
        "platform and part), so keep one",
    ]


def test_three_x_accounts_are_named_together(tmp_path):
    result = check(
        tmp_path, {"x1": X_CHANNEL, "x2": X_CHANNEL, "x3": X_CHANNEL}, ["x1", "x2", "x3"]
    )
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"{tmp_path / 'config.yaml'}: 1 problem",
        "  newsletters.weekly.channels: 'x1', 'x2' and 'x3' all post to x; a newsletter can "
        "post to one x account (its posts are recorded per edition, platform and part), "
        "so keep one",
    ]


def test_one_account_per_platform_and_outboxes_are_fine(tmp_path):
    result = check(
        tmp_path,
        {
            "bsky": bluesky("fed.bsky.social"),
            "x": X_CHANNEL,
            "bsky_out": {"type": "outbox", "platform": "bluesky"},
            "x_out": {"type": "outbox", "platform": "x"},
        },
        ["bsky", "x", "bsky_out", "x_out", "bsky"],  # a repeated name is the same account
    )
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_the_same_accounts_on_different_newsletters_are_fine(tmp_path):
    raw = minimal_config(tmp_path)
    raw["channels"].update({"bsky_fed": bluesky("fed.bsky"), "bsky_alt": bluesky("alt.bsky")})
    raw["newsletters"]["weekly"]["channels"] = ["email", "bsky_fed"]
    raw["newsletters"]["daily"] = {
        **raw["newsletters"]["weekly"],
        "schedule": "daily 07:00",
        "channels": ["email", "bsky_alt"],
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(app, ["--config", str(path), "check-config"])
    assert result.exit_code == 0, result.output
