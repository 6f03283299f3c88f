"""Which stored attachments a browser may show: images, audio and video recognised by their bytes.

The content type a phone sends with an attachment is only a claim: served as given, an SVG or an
HTML file would run as one of our pages. What may be shown inline is decided from the file's
first bytes (the `filetype` library reads their signature) against an allow-list of types
browsers only display; anything else is offered as a download (server.web.downloads).
"""

from __future__ import annotations

import filetype

#: Types a browser displays and never runs (no SVG, no HTML, no PDF).
INLINE_TYPES = frozenset({
    "image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/heic",
    "image/avif",
    "audio/aac", "audio/mpeg", "audio/mp4", "audio/ogg", "audio/x-flac", "audio/x-wav",
    "audio/amr",
    "video/3gpp", "video/mp4", "video/quicktime", "video/webm", "video/x-m4v",
})
#: What `filetype` reads: the first bytes hold every signature it knows.
SNIFF_BYTES = 8192


def inline_type(data: bytes) -> str | None:
    """The content type to show `data` inline with, or None: then it is only a download."""
    kind = filetype.guess(data[:SNIFF_BYTES]) if data else None
    return kind.mime if kind is not None and kind.mime in INLINE_TYPES else None
