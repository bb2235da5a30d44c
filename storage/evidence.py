"""The evidence store: files kept on disk by content hash, next to the database."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from storage.errors import StorageError


class EvidenceStoreError(StorageError):
    """A file could not be written to the evidence store (disk full, permissions)."""


class EvidenceStore:
    """Content-addressed files under ``root``: the same bytes are kept once."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def save(self, content: bytes) -> tuple[str, str]:
        """Write ``content`` (atomically); return its sha256 and the path relative to root."""
        digest = hashlib.sha256(content).hexdigest()
        relative = f"{digest[:2]}/{digest}"
        target = self.root / relative
        if target.exists():
            return digest, relative
        temporary: str | None = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except OSError as exc:
            if temporary is not None:  # a full disk leaves no half-written file behind
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
            raise EvidenceStoreError(f"cannot store evidence under {self.root}: "
                                     f"{exc.strerror}") from exc
        return digest, relative

    def read(self, relative: str) -> bytes:
        """The bytes kept at ``relative``."""
        return (self.root / relative).read_bytes()
