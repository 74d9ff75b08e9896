"""A rendered email leaves nothing behind for the cyclic garbage collector to find."""

from __future__ import annotations

import gc

from digest.config import Settings
from digest.models import Edition
from digest.render import Renderer
from digest.render.views import ItemView, PostView


def test_item_views_are_freed_when_the_render_ends(
    settings: Settings, full_edition: Edition
) -> None:
    renderer = Renderer(settings)
    renderer.email(full_edition)  # compile the templates first
    gc.collect()
    gc.disable()  # only reference counting may free them now
    try:
        renderer.email(full_edition)
        left = [o for o in gc.get_objects() if isinstance(o, ItemView | PostView)]
    finally:
        gc.enable()
    assert left == []
