"""Download links for platforms that take files only from an address (LINE).

LINE's Messaging API cannot upload a file: a picture must be at an HTTPS address, and there is
no file message for bots at all. With ``PUBLIC_BASE_URL`` set, sqbot keeps each document or
picture it sends under ``DATA_DIR/downloads`` (by content hash) and sends a link to
``PUBLIC_BASE_URL/files/…`` instead. A link is a signed capability: the file's hash, the
expiry and the name are signed with a key derived from the LINE channel secret, so it cannot
be forged or altered, and it stops working after ``FILE_LINK_DAYS``. Files past every link's
expiry are removed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from handlers.messages import Document
from storage.evidence import EvidenceStore

logger = logging.getLogger(__name__)

#: Types sqbot sends, so the browser opens them with the right program.
MIME_TYPES = {
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
    ".ics": "text/calendar; charset=utf-8",
}


class LinkRefused(Exception):
    """A request for a link that is forged (403), expired (410) or gone (404)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def mime_type(filename: str, fallback: str = "application/octet-stream") -> str:
    """The type a browser should be told for ``filename``."""
    return MIME_TYPES.get(Path(filename).suffix.lower(), fallback)


@dataclass
class FileLinks:
    """Keeps files and hands out signed, expiring links to them."""

    root: Path
    base_url: str
    key: bytes
    days: int = 7
    clock: Callable[[], float] = time.time
    _pruned_at: float = field(default=0.0, init=False)

    @classmethod
    def for_line(cls, root: Path, base_url: str, channel_secret: str, days: int = 7
                 ) -> FileLinks:
        """Links signed with a key derived from the LINE channel secret."""
        key = hmac.new(channel_secret.encode(), b"sqbot file links", hashlib.sha256).digest()
        return cls(root, base_url.rstrip("/"), key, days)

    def link(self, doc: Document) -> str:
        """Keep ``doc`` and return an address that serves it until the link expires."""
        digest, relative = EvidenceStore(self.root).save(doc.content)
        os.utime(self.root / relative)  # kept as long as its newest link
        expires = int(self.clock()) + self.days * 86400
        signature = self._sign(digest, expires, doc.filename)
        self.prune()
        return (f"{self.base_url}/files/{digest}/{expires}/{signature}/"
                f"{quote(doc.filename, safe='')}")

    def open(self, digest: str, expires: str, signature: str, filename: str
             ) -> tuple[bytes, str]:
        """The bytes and type behind a link, or LinkRefused."""
        if not (expires.isdigit() and len(expires) <= 12 and len(digest) == 64
                and all(c in "0123456789abcdef" for c in digest)):
            raise LinkRefused(404, "not a file link")
        if not hmac.compare_digest(signature, self._sign(digest, int(expires), filename)):
            raise LinkRefused(403, "bad signature")
        if int(expires) < self.clock():
            raise LinkRefused(410, "link expired")
        path = self.root / digest[:2] / digest
        try:
            return path.read_bytes(), mime_type(filename)
        except FileNotFoundError:
            raise LinkRefused(404, "file removed") from None

    def prune(self, *, every: float = 3600.0) -> int:
        """Remove files no link can reach any more (at most once per ``every`` seconds)."""
        now = self.clock()
        if now - self._pruned_at < every:
            return 0
        self._pruned_at = now
        removed = 0
        for path in self.root.glob("??/*"):
            try:
                if path.stat().st_mtime < now - (self.days + 1) * 86400:
                    path.unlink()
                    removed += 1
            except OSError:
                continue
        if removed:
            logger.info("removed %s downloads past their links' expiry", removed)
        return removed

    def _sign(self, digest: str, expires: int, filename: str) -> str:
        message = f"{digest}/{expires}/{filename}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()[:32]
