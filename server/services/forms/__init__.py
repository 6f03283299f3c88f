"""Forms on the server: upload, publish and close (lifecycle), draft test links
(draft_testing), and the media phones download with a form (entity_lists)."""

from server.services.forms.lifecycle import close, media_for, publish, upload

__all__ = ["close", "media_for", "publish", "upload"]
