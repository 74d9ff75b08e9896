"""The one normalisation every collected item passes before it is stored.

Readers differ (feeds, curated files, CSV, Bluesky, X, page enrichment); what they hand
over is cleaned here, in one place, so no source type can be forgotten:

- C0/C1 control characters (except tab and newline) and characters XML 1.0 forbids
  (lone surrogates, U+FFFE/U+FFFF) are removed: one ``\\x1b`` in a title made MJML
  reject the whole edition, on every rerun;
- anything that looks like a recipient marker (``%%DIGEST_...``) is defused
  (digest.render.placeholders), so content cannot have a reader's unsubscribe link,
  preferences link or name filled into it.

Identity fields (``source_id``, ``guid``) are left alone so stored items keep matching.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from digest.models import Item, Media, Origin, SocialPost
from digest.sanitize import neutralise_content

# \r becomes \n first; then every C0 but \t \n, DEL, C1, surrogates, U+FFFE/U+FFFF.
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def clean_text(text: str) -> str:
    """``text`` fit for XML and for an email: see the module docstring."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return neutralise_content(_INVALID.sub("", text))


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list | tuple):
        return type(value)(_clean(v) for v in value)
    if isinstance(value, dict):
        return {_clean(k) if isinstance(k, str) else k: _clean(v) for k, v in value.items()}
    if isinstance(value, Origin | Media | SocialPost):
        return _clean_dataclass(value)
    return value


def _clean_dataclass(value: Any) -> Any:
    changes = {}
    for f in dataclasses.fields(value):
        old = getattr(value, f.name)
        new = _clean(old)
        if new is not old and new != old:
            changes[f.name] = new
    return dataclasses.replace(value, **changes) if changes else value


def clean_item(item: Item) -> Item:
    """A copy of ``item`` with every text field cleaned (the item itself if all clean)."""
    changes = {}
    for f in dataclasses.fields(item):
        if f.name in ("source_id", "guid", "id", "published_at"):
            continue
        old = getattr(item, f.name)
        new = _clean(old)
        if new != old:
            changes[f.name] = new
    return dataclasses.replace(item, **changes) if changes else item
