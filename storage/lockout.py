"""Wrong invitation codes, counted where they come from, so guessing stays hopeless.

A code is 10 characters from 31 (≈ 2^49). Each wrong code is counted against three scopes:
the chat it was typed in, the platform user who typed it, and the whole deployment (every
agency it serves: a wrong code names none). A scope is locked for a while once it reaches
its limit within its window, and no code is checked from a locked scope — so a new user id,
a second group or another member of a locked group gets no fresh tries, and a crowd of
accounts is held by the ceiling. Scopes are stored as hashes: no platform id is kept.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col

from storage.models import CodeFailure


@dataclass(frozen=True)
class Limit:
    """``attempts`` wrong codes within ``window`` lock the scope for ``lock`` (≥ window)."""

    attempts: int
    window: timedelta
    lock: timedelta


PER_CHAT = Limit(5, timedelta(minutes=15), timedelta(minutes=15))
PER_USER = Limit(5, timedelta(minutes=15), timedelta(minutes=15))
#: Far above what an office's newcomers mistype, far below what guessing would need.
OVERALL = Limit(100, timedelta(hours=1), timedelta(hours=1))
KEEP = timedelta(days=1)  # housekeeping drops older failures


def _scope(kind: str, *parts: str) -> str:
    return kind + ":" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def scopes(channel: str, chat_id: str, user_id: str) -> dict[str, Limit]:
    """The scopes a code typed by ``user_id`` in ``chat_id`` counts against."""
    return {_scope("chat", channel, chat_id): PER_CHAT,
            _scope("user", channel, user_id): PER_USER,
            "all": OVERALL}


def locked_minutes(*, session: Session, limits: dict[str, Limit], now: datetime) -> int | None:
    """Minutes until codes are checked again for these scopes, or None if none is locked."""
    until: datetime | None = None
    for scope, limit in limits.items():
        count, last = session.execute(
            sa.select(sa.func.count(), sa.func.max(col(CodeFailure.failed_at)))
            .where(col(CodeFailure.scope) == scope,
                   col(CodeFailure.failed_at) > now - limit.window)).one()
        if count >= limit.attempts and last is not None:
            ends = _aware(last) + limit.lock
            if ends > now and (until is None or ends > until):
                until = ends
    if until is None:
        return None
    return max(1, math.ceil((until - now).total_seconds() / 60))


def record_failure(*, session: Session, limits: dict[str, Limit], now: datetime) -> None:
    """Count one wrong code against each scope."""
    session.execute(sa.insert(CodeFailure), [{"scope": scope, "failed_at": now}
                                             for scope in limits])


def clear_failures(*, session: Session, limits: dict[str, Limit]) -> None:
    """A right code from a chat and user forgets their own mistakes (not the overall count)."""
    mine = [scope for scope in limits if scope != "all"]
    session.execute(sa.delete(CodeFailure).where(col(CodeFailure.scope).in_(mine)))


def prune_failures(*, session: Session, now: datetime) -> int:
    """Drop failures older than any window; how many went."""
    result = session.execute(sa.delete(CodeFailure).where(
        col(CodeFailure.failed_at) < now - KEEP))
    return int(result.rowcount)  # type: ignore[attr-defined]


def _aware(moment: datetime | str) -> datetime:
    if isinstance(moment, str):  # an aggregate's value, as some drivers hand it back
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
