"""The evidence store: files kept on disk by content hash, next to the database."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from storage.errors import StorageError


class EvidenceStoreError(StorageError):
    """A file could not be written to the evidence store (disk full, permissions)."""


class EvidenceStore:
    """Content-addressed files under ``root``: the same bytes are kept once."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def save(self, content: bytes) -> tuple[str, str]:
        """Write ``content`` (atomically); return its sha256 and the path relative to root."""
        digest, relative, _ = self.put(content)
        return digest, relative

    def put(self, content: bytes) -> tuple[str, str, bool]:
        """:meth:`save`, also saying whether the file is new (not kept before)."""
        digest = hashlib.sha256(content).hexdigest()
        relative = f"{digest[:2]}/{digest}"
        target = self.root / relative
        if target.exists():
            return digest, relative, False
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
        return digest, relative, True

    def spool(self) -> Spool:
        """A file to stream an upload into (under ``root/.spool``), hashed as it is written."""
        try:
            directory = self.root / ".spool"
            directory.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=directory, prefix="upload-")
        except OSError as exc:
            raise EvidenceStoreError(f"cannot store evidence under {self.root}: "
                                     f"{exc.strerror}") from exc
        return Spool(self, Path(name), os.fdopen(fd, "wb"))

    def adopt(self, spooled: Path, digest: str) -> tuple[str, str, bool]:
        """Move a spooled upload into the store; its sha256, relative path and whether the
        file is new (False when the same bytes were kept already: the spool is dropped)."""
        relative = f"{digest[:2]}/{digest}"
        target = self.root / relative
        try:
            if target.exists():
                spooled.unlink(missing_ok=True)
                return digest, relative, False
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(spooled, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                spooled.unlink(missing_ok=True)
            raise EvidenceStoreError(f"cannot store evidence under {self.root}: "
                                     f"{exc.strerror}") from exc
        return digest, relative, True

    def remove(self, relative: str) -> None:
        """Delete a file this event stored when its row was not written after all."""
        with contextlib.suppress(OSError):
            (self.root / relative).unlink()

    def read(self, relative: str) -> bytes:
        """The bytes kept at ``relative``."""
        return (self.root / relative).read_bytes()


class Spool:
    """An upload being streamed to disk; :meth:`write` refuses past ``limit`` bytes."""

    def __init__(self, store: EvidenceStore, path: Path, handle: BinaryIO) -> None:
        self.store = store
        self.path = path
        self._handle = handle
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes, limit: int) -> bool:
        """Append ``chunk``; False (and the file discarded) once the total exceeds ``limit``."""
        self.size += len(chunk)
        if self.size > limit:
            self.discard()
            return False
        try:
            self._handle.write(chunk)
        except OSError as exc:
            self.discard()
            raise EvidenceStoreError(f"cannot store evidence under {self.store.root}: "
                                     f"{exc.strerror}") from exc
        self._hash.update(chunk)
        return True

    def finish(self) -> str:
        """Close the file (flushed to disk); the content's sha256."""
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
        except OSError as exc:
            self.discard()
            raise EvidenceStoreError(f"cannot store evidence under {self.store.root}: "
                                     f"{exc.strerror}") from exc
        return self._hash.hexdigest()

    def discard(self) -> None:
        """Close and delete the file (nothing half-written stays)."""
        with contextlib.suppress(OSError):
            self._handle.close()
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)
