"""``type: curated``: a folder of staff-written items.

``*.yaml``/``*.yml`` files hold one item (a mapping) or a list of them; ``*.md`` files
hold one item as YAML front matter with the Markdown below it as the body. A bad file
or field is a warning naming the file (and field); every other item still lands.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt

from digest.config import CuratedSource
from digest.errors import SourceError
from digest.models import Item
from digest.sanitize import sanitize_html
from digest.sources.base import SourceContext, register
from digest.sources.drafts import Draft, DraftError, draft_from, to_item
from digest.sources.enrich import enrich_drafts

YAML_SUFFIXES = (".yaml", ".yml")
MARKDOWN_SUFFIXES = (".md", ".markdown")


@register("curated")
class CuratedReader:
    async def read(self, config: CuratedSource, ctx: SourceContext) -> list[Item]:
        folder = ctx.settings.resolve_path(config.path)
        if not folder.is_dir():
            raise SourceError(ctx.source_id, f"folder not found: {folder}")
        drafts: list[Draft] = []
        for path in _item_files(folder):
            drafts.extend(read_file(path, path.relative_to(folder).as_posix(), ctx))
        drafts = ctx.keep_recent(drafts, lambda d: d.published_at)
        if config.enrich:
            await enrich_drafts(drafts, ctx)
        return [to_item(d, config, ctx) for d in drafts]


def _item_files(folder: Path) -> list[Path]:
    suffixes = YAML_SUFFIXES + MARKDOWN_SUFFIXES
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in suffixes
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def read_file(path: Path, name: str, ctx: SourceContext) -> list[Draft]:
    """The drafts in one file; problems are warnings naming ``name``."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        ctx.warn(f"{name}: cannot read: {exc.strerror}")
        return []
    mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    try:
        records = _records(text, path.suffix.lower(), name)
    except ValueError as exc:
        ctx.warn(str(exc))
        return []
    drafts = []
    for index, record in enumerate(records):
        where = name if len(records) == 1 else f"{name} item {index + 1}"
        if not isinstance(record, dict):
            ctx.warn(f"{where}: expected a mapping of fields (title, url, ...); skipped")
            continue
        try:
            drafts.append(draft_from(record, where, mtime, ctx))
        except DraftError as exc:
            ctx.warn(f"{exc}; skipped")
    return drafts


def _records(text: str, suffix: str, name: str) -> list[Any]:
    if suffix in MARKDOWN_SUFFIXES:
        return [_markdown_record(text, name)]
    data = _load_yaml(text, name)
    if data is None:
        return []
    return data if isinstance(data, list) else [data]


def _load_yaml(text: str, name: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc
        raise ValueError(f"{name}: not valid YAML{where}: {problem}; file skipped") from None


def _markdown_record(text: str, name: str) -> dict[str, Any]:
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        raise ValueError(f"{name}: no YAML front matter (start the file with a '---' line)")
    try:
        end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() in ("---", "..."))
    except StopIteration:
        raise ValueError(f"{name}: front matter is not closed with a '---' line") from None
    front = _load_yaml("\n".join(lines[1:end]), name)
    if not isinstance(front, dict):
        raise ValueError(f"{name}: front matter must be a mapping of fields")
    body = "\n".join(lines[end + 1 :]).strip()
    if body:
        front["body"] = sanitize_html(MarkdownIt("commonmark").render(body))
    return front
