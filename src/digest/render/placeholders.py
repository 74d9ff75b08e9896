"""Recipient-specific values in a rendered edition.

An edition is rendered once; its HTML and text carry these markers, and each
recipient's copy fills them in with plain string replacement (no re-render). The
markers are ASCII without characters that HTML escaping, MJML or CSS inlining alter.

Untrusted content (a feed entry, a CSV row, a post) must never be able to place a
marker of its own, or every reader's unsubscribe link and name would be filled into an
attacker's image URL. Three layers keep the substitution to the places the templates
put it:

- each stored edition gets its own unguessable nonce (``new_nonce``), and its markers
  carry it (``%%DIGEST_UNSUBSCRIBE_URL_<nonce>%%``): content collected before the
  edition was rendered cannot know it, and delivery fills only that edition's markers;
- ``neutralise_content`` defuses anything marker-like in collected text at ingestion;
- ``neutralise_foreign`` defuses, in the rendered output, every marker-like sequence
  that is not one of this edition's own markers (whatever escaping or inlining did).

The bare markers without a nonce (``UNSUBSCRIBE_URL`` ...) remain for renders that
are never sent (template previews, golden files) and editions stored before nonces.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from digest.sanitize import MARKER_JOINER as _JOINER
from digest.sanitize import MARKER_LIKE as _MARKER_LIKE

UNSUBSCRIBE_URL = "%%DIGEST_UNSUBSCRIBE_URL%%"
PREFERENCES_URL = "%%DIGEST_PREFERENCES_URL%%"
SUBSCRIBER_NAME = "%%DIGEST_SUBSCRIBER_NAME%%"
# only in tracked links, and only where reach.clicks is per_subscriber (digest.reach.links)
CLICK_RECIPIENT = "%%DIGEST_CLICK_RECIPIENT%%"

# the markers the templates place (the click one is added to tracked links at send time)
IN_TEMPLATES = (UNSUBSCRIBE_URL, PREFERENCES_URL, SUBSCRIBER_NAME)
ALL = (*IN_TEMPLATES, CLICK_RECIPIENT)

_NONCE = re.compile(r"[0-9a-f]{32}")


def new_nonce() -> str:
    """A fresh per-edition nonce (128 bits: nobody outside can guess it)."""
    return secrets.token_hex(16)


@dataclass(frozen=True)
class Markers:
    """One edition's markers. ``nonce`` "" gives the bare markers (never for sending)."""

    nonce: str = ""

    def __post_init__(self) -> None:
        if self.nonce and not _NONCE.fullmatch(self.nonce):
            raise ValueError("a marker nonce is 32 lower-case hex digits")

    def _marker(self, bare: str) -> str:
        return f"{bare[:-2]}_{self.nonce}%%" if self.nonce else bare

    @property
    def unsubscribe_url(self) -> str:
        return self._marker(UNSUBSCRIBE_URL)

    @property
    def preferences_url(self) -> str:
        return self._marker(PREFERENCES_URL)

    @property
    def subscriber_name(self) -> str:
        return self._marker(SUBSCRIBER_NAME)

    @property
    def click_recipient(self) -> str:
        return self._marker(CLICK_RECIPIENT)

    @property
    def all(self) -> tuple[str, str, str, str]:
        return (
            self.unsubscribe_url,
            self.preferences_url,
            self.subscriber_name,
            self.click_recipient,
        )

    def pattern(self) -> re.Pattern[str]:
        """Matches exactly this edition's markers and nothing else."""
        return re.compile("|".join(re.escape(m) for m in self.all))

    def bare(self, marker: str) -> str:
        """The bare marker (``UNSUBSCRIBE_URL`` ...) that one of these markers stands for."""
        return dict(zip(self.all, ALL, strict=True))[marker]


def neutralise_foreign(text: str, markers: Markers) -> str:
    """Rendered output with every marker-like sequence defused except ``markers``' own.

    Only meaningful with a nonce: the bare markers cannot be told from content's."""
    if not markers.nonce or "%" not in text:
        return text
    own = markers.all

    def defuse(match: re.Match[str]) -> str:
        if any(text.startswith(marker, match.start()) for marker in own):
            return match.group(0)
        return f"%{match.group(1)}{_JOINER}%"

    return _MARKER_LIKE.sub(defuse, text)


# Any edition's marker, bare or with a nonce: for pages that show stand-ins (archive,
# desk preview), where filling a foreign marker with the same harmless value is safe.
_ANY_MARKER = re.compile(
    r"%%DIGEST_(UNSUBSCRIBE_URL|PREFERENCES_URL|SUBSCRIBER_NAME|CLICK_RECIPIENT)"
    r"(?:_[0-9a-f]{32})?%%"
)


def fill(text: str, values: dict[str, str]) -> str:
    """Replace each marker with its value; ``values`` maps bare marker → escaped value.

    A marker with any nonce is filled like its bare form: use this only for stand-in
    values that are the same for everyone (previews, public pages)."""

    def value(match: re.Match[str]) -> str:
        bare = f"%%DIGEST_{match.group(1)}%%"
        return values.get(bare, match.group(0))

    return _ANY_MARKER.sub(value, text)
