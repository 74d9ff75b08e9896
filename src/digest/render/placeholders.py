"""Recipient-specific values in a rendered edition.

An edition is rendered once; its HTML and text carry these markers, and each
recipient's copy fills them in with plain string replacement (no re-render). The
markers are ASCII without characters that HTML escaping, MJML or CSS inlining alter.
"""

from __future__ import annotations

UNSUBSCRIBE_URL = "%%DIGEST_UNSUBSCRIBE_URL%%"
PREFERENCES_URL = "%%DIGEST_PREFERENCES_URL%%"
SUBSCRIBER_NAME = "%%DIGEST_SUBSCRIBER_NAME%%"
# only in tracked links, and only where reach.clicks is per_subscriber (digest.reach.links)
CLICK_RECIPIENT = "%%DIGEST_CLICK_RECIPIENT%%"

ALL = (UNSUBSCRIBE_URL, PREFERENCES_URL, SUBSCRIBER_NAME, CLICK_RECIPIENT)


def fill(text: str, values: dict[str, str]) -> str:
    """Replace each marker with its value; ``values`` maps marker → already-escaped value."""
    for marker, value in values.items():
        text = text.replace(marker, value)
    return text
