"""``Dispatcher.dispatch(incoming) -> replies``: one event, one database transaction.

The transaction records the event id (a redelivery is dropped), loads and locks the
conversation state, runs the flow step, writes answers, state and outbox rows, and commits.
Replies for the sender are returned; messages for anyone else are in the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from handlers import texts
from handlers.dialogs import build_engine
from handlers.flow import event_of
from handlers.messages import ChatKind, Incoming, Outgoing
from handlers.state import Mode, State
from handlers.turn import FlowConfig, Turn
from storage.conversations import lock_state, read_state, record_event
from storage.db import Database
from storage.org import member_for_identity

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
TRANSIENT_ATTEMPTS = 3
T = TypeVar("T")


def system_clock() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


class Dispatcher:
    """Runs flows for incoming events against the database."""

    def __init__(self, database: Database, config: FlowConfig, *,
                 clock: Clock = system_clock) -> None:
        self.database = database
        self.config = config
        self.clock = clock

    def dispatch(self, incoming: Incoming) -> list[Outgoing]:
        """Handle one event; return the replies for its sender (empty for a redelivery).

        A transient database error (locked, connection lost, deadlock) is retried; if it
        persists it is raised, so the adapter does not acknowledge and the platform
        redelivers. Any other error is logged, the event is recorded as handled, and the
        sender is told the message was not processed.
        """
        try:
            return self._retrying(
                lambda: self._undoing(lambda undo: self._transaction(incoming, undo)))
        except OperationalError:
            raise
        except Exception:
            logger.exception("flow failed for %s event %s", incoming.channel, incoming.event_id)
            return self._failed(incoming)

    def takes_file(self, incoming: Incoming) -> bool:
        """Whether a file from this sender would be kept where they are now — asked before
        its bytes are fetched, so nobody else's upload is downloaded at all."""
        if incoming.chat_kind != ChatKind.PRIVATE:
            return False
        with self.database.transaction() as session:
            if member_for_identity(session=session, channel=incoming.channel,
                                   platform_user_id=incoming.user_id) is None:
                return False
            document = read_state(session=session, channel=incoming.channel,
                                  user_id=incoming.user_id)
        return takes_file(State.from_json(document))

    @staticmethod
    def _retrying(work: Callable[[], T]) -> T:
        """``work``, again on a transient database error (locked, connection lost,
        deadlock), which is raised if it persists."""
        for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
            try:
                return work()
            except OperationalError:
                if attempt == TRANSIENT_ATTEMPTS:
                    raise
                logger.warning("transient database error on attempt %s; retrying", attempt)
        raise AssertionError("unreachable")

    @staticmethod
    def _undoing(work: Callable[[list[Callable[[], None]]], T]) -> T:
        """``work(undo)``; if it raises, the undo steps it collected are run (files stored
        for rows that were not written)."""
        undo: list[Callable[[], None]] = []
        try:
            return work(undo)
        except BaseException:
            for step in undo:
                step()
            raise

    def dispatch_many(self, incomings: list[Incoming]) -> list[list[Outgoing]]:
        """Handle several events in one transaction (a LINE webhook body brings up to 100),
        in order: each is still its own event id, state and replies; one that fails is
        rolled back alone (to its savepoint) and answered with the apology. A transient
        database error retries the whole batch (events already handled are dropped by their
        ids), as :meth:`dispatch` does."""
        if len(incomings) <= 1:
            return [self.dispatch(incoming) for incoming in incomings]
        return self._retrying(
            lambda: self._undoing(lambda undo: self._batch(incomings, undo)))

    def _batch(self, incomings: list[Incoming], undo: list[Callable[[], None]]
               ) -> list[list[Outgoing]]:
        turns: list[Turn | list[Outgoing]] = []
        with self.database.transaction() as session:
            for incoming in incomings:
                mine: list[Callable[[], None]] = []
                savepoint = session.begin_nested()
                try:
                    turns.append(self._handle(session, incoming, mine))
                    savepoint.commit()
                    undo.extend(mine)
                except OperationalError:
                    raise
                except Exception:
                    savepoint.rollback()
                    for work in mine:  # files stored for this event's rows only
                        work()
                    logger.exception("flow failed for %s event %s", incoming.channel,
                                     incoming.event_id)
                    record_event(session=session, channel=incoming.channel,
                                 event_id=incoming.event_id, now=self.clock())
                    turns.append([Outgoing(texts.ERROR)])
        return [self._after_commit(turn) if isinstance(turn, Turn) else turn for turn in turns]

    def _transaction(self, incoming: Incoming, undo: list[Callable[[], None]]
                     ) -> list[Outgoing]:
        with self.database.transaction() as session:
            turn = self._handle(session, incoming, undo)
        return self._after_commit(turn) if isinstance(turn, Turn) else turn

    def _handle(self, session: Session, incoming: Incoming, undo: list[Callable[[], None]]
                ) -> Turn | list[Outgoing]:
        """One event's work inside the transaction; its turn, or [] for a redelivery."""
        now = self.clock()
        if not record_event(session=session, channel=incoming.channel,
                            event_id=incoming.event_id, now=now):
            logger.info("dropped redelivered %s event %s", incoming.channel,
                        incoming.event_id)
            return []
        # In a group each person has a conversation of their own.
        key_user = incoming.user_id if incoming.chat_kind == ChatKind.PRIVATE \
            else f"group:{incoming.chat_id}:{incoming.user_id}"
        row = lock_state(session=session, channel=incoming.channel, user_id=key_user,
                         now=now)
        state = State.from_json(row.state)
        previous = state.step
        state.step = previous + 1
        member = member_for_identity(session=session, channel=incoming.channel,
                                     platform_user_id=incoming.user_id)
        turn = Turn(session=session, incoming=incoming, now=now, state=state,
                    config=self.config, member=member, previous_step=previous,
                    on_rollback=undo)
        route(turn)
        if turn.replies:  # what was just drawn: a typed label of it is its press
            state.record_drawn([(choice.label, choice.action) for reply in turn.replies
                                for choice in reply.choices])
        row.state = state.to_json()
        row.updated_at = now
        session.add(row)
        session.flush()
        return turn

    def _after_commit(self, turn: Turn) -> list[Outgoing]:
        incoming = turn.incoming
        for work in turn.after_commit:  # committed: slow work holds no lock now
            try:
                work()
            except Exception:
                logger.exception("work after the commit of %s event %s failed",
                                 incoming.channel, incoming.event_id)
                turn.replies.append(Outgoing(texts.AFTER_COMMIT_FAILED))
        return turn.replies

    def _failed(self, incoming: Incoming) -> list[Outgoing]:
        with self.database.transaction() as session:
            record_event(session=session, channel=incoming.channel, event_id=incoming.event_id,
                         now=self.clock())
        return [Outgoing(texts.ERROR)]


ENGINE = build_engine()


def takes_file(state: State) -> bool:
    """Whether the conversation, as it stands in ``state``, keeps a file sent now."""
    return state.mode == Mode.DIALOG and ENGINE.takes_file(state.dialog)


def route(turn: Turn) -> None:
    """The event to the engine: the dialog on top, else the menu under every dialog."""
    ENGINE.route(turn, event_of(turn.incoming))
