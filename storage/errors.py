"""Errors of the storage package.

    StorageError
    ├── DatabaseConfigError   DATABASE_URL is malformed or names an unsupported database
    ├── MigrationError        the schema cannot be brought to the code's version
    ├── NotFound              a named agency, section, member or code does not exist
    ├── InvitationError       an invitation code cannot be used (see ``reason``)
    ├── BackupError           a backup cannot be written or restored (storage.backup)
    └── ConflictError         a row changed under us (optimistic lock) or a unique key clashed
"""

from __future__ import annotations

from enum import StrEnum


class StorageError(Exception):
    """Root of the storage package's errors."""


class DatabaseConfigError(StorageError):
    """DATABASE_URL cannot be used; the message names the setting."""


class MigrationError(StorageError):
    """The database schema cannot be migrated."""


class NotFound(StorageError):
    """A named row does not exist."""

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"no {kind} {key!r}")


class InvitationProblem(StrEnum):
    """Why an invitation code was refused; handlers word each one for the user."""

    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"


class InvitationError(StorageError):
    """An invitation code cannot be redeemed."""

    def __init__(self, reason: InvitationProblem) -> None:
        self.reason = reason
        super().__init__(f"invitation code refused: {reason.value}")


class ConflictError(StorageError):
    """Someone else changed the row first, or a unique key already exists."""
