"""``type: csv``: a CSV file or a published spreadsheet (e.g. Google Sheets "publish to web").

Columns as in curated files (title, url, excerpt, outlet, date, tags, state, kind,
quote, quote_by, image, image_alt, body); headers are case-insensitive and a UTF-8 BOM
is fine. A bad row is a warning naming its line number; the other rows still land.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from digest.config import CsvSource
from digest.errors import SourceError
from digest.models import Item
from digest.sources.base import SourceContext, register
from digest.sources.drafts import Draft, DraftError, draft_from, to_item
from digest.sources.enrich import enrich_drafts
from digest.sources.entries import read_bytes


@register("csv")
class CsvReader:
    async def read(self, config: CsvSource, ctx: SourceContext) -> list[Item]:
        # Not conditional: rows are re-read every time so an edited sheet updates items.
        result = await read_bytes(ctx, config.url, config.path, conditional=False)
        assert result is not None
        text = result.content.decode("utf-8-sig", errors="replace")
        cursor = ctx.state.setdefault("cursor", {}) or {}
        ctx.state["cursor"] = cursor
        first_seen: dict[str, str] = cursor.get("first_seen", {})
        drafts = parse_rows(text, ctx, first_seen)
        # Undated rows keep the time they were first seen, so they do not drift forward.
        cursor["first_seen"] = first_seen
        drafts = ctx.keep_recent(drafts, lambda d: d.published_at)
        if config.enrich:
            await enrich_drafts(drafts, ctx)
        return [to_item(d, config, ctx) for d in drafts]


def parse_rows(
    text: str, ctx: SourceContext, first_seen: dict[str, str] | None = None
) -> list[Draft]:
    """Drafts from CSV text; ``first_seen`` (row key -> ISO time) dates undated rows and
    is pruned to the rows still present."""
    seen_before = dict(first_seen or {})
    if first_seen is not None:
        first_seen.clear()
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return []
    except csv.Error as exc:
        raise SourceError(ctx.source_id, f"line 1: not readable as CSV: {exc}") from None
    columns = [name.strip().lstrip("\ufeff").lower() for name in header]
    if "url" not in columns and "title" not in columns:
        raise SourceError(
            ctx.source_id, f"line 1: the header needs a 'url' or 'title' column (got {header})"
        )
    drafts: list[Draft] = []
    line = reader.line_num + 1  # where the next record starts
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            ctx.warn(f"line {line}: not readable as CSV ({exc}); the rest of the file skipped")
            break
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        fields = {name: value for name, value in zip(columns, row, strict=False) if name}
        key = (fields.get("url") or fields.get("title") or "").strip()
        seen = seen_before.get(key)
        default = datetime.fromisoformat(seen) if seen else ctx.now
        if first_seen is not None and key:
            first_seen[key] = default.isoformat()
        try:
            drafts.append(draft_from(fields, f"line {start}", default, ctx))
        except DraftError as exc:
            ctx.warn(f"{exc}; row skipped")
    return drafts
