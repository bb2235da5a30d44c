"""``Dispatcher.dispatch(incoming) -> replies``: one event, one database transaction.

The transaction records the event id (a redelivery is dropped), loads and locks the
conversation state, runs the flow step, writes answers, state and outbox rows, and commits.
Replies for the sender are returned; messages for anyone else are in the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.exc import OperationalError

from handlers import assessment, proposals, secretariat, texts
from handlers.assessment import Refused
from handlers.commands import parse_command
from handlers.dialogs import assess, build_engine, cases, decide, propose, verify
from handlers.flow import Event, File, Lifecycle, Press, Text, event_of, match_label
from handlers.messages import ChatKind, Incoming, Outgoing
from handlers.onboarding import handle_group, handle_lifecycle, handle_stranger
from handlers.state import Mode, State
from handlers.tokens import TokenError, parse_token
from handlers.turn import FlowConfig, Turn
from storage.conversations import lock_state, read_state, record_event
from storage.db import Database
from storage.org import binding_for_chat, member_for_identity

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
TRANSIENT_ATTEMPTS = 3


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
        for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
            try:
                return self._run(incoming)
            except OperationalError:
                if attempt == TRANSIENT_ATTEMPTS:
                    raise
                logger.warning("transient database error on attempt %s; retrying", attempt)
            except Exception:
                logger.exception("flow failed for %s event %s", incoming.channel,
                                 incoming.event_id)
                return self._failed(incoming)
        raise AssertionError("unreachable")

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

    def _run(self, incoming: Incoming) -> list[Outgoing]:
        undo: list[Callable[[], None]] = []
        try:
            return self._transaction(incoming, undo)
        except BaseException:
            for work in undo:  # files stored for rows that were not written
                work()
            raise

    def _transaction(self, incoming: Incoming, undo: list[Callable[[], None]]
                     ) -> list[Outgoing]:
        now = self.clock()
        with self.database.transaction() as session:
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
    """Send the event to the dialog on top, else to the flow it belongs to."""
    event: Event | None = event_of(turn.incoming)
    if isinstance(event, Lifecycle):
        handle_lifecycle(turn)
        return
    if turn.incoming.chat_kind == ChatKind.GROUP and not _secretariat_in_bound_group(turn):
        handle_group(turn)
        return
    if turn.member is None:
        handle_stranger(turn)
        return
    try:
        event = ENGINE.handle(turn, event) if event is not None else None
        match event:
            case None:
                return
            case Press(action=action):
                _action(turn, action)
            case File():
                assessment.show_menu_hint(turn, prefix="目前沒有正在填答的題目，檔案未被保存。")
            case Text(text=text):
                # A typed label of a button just drawn is that button's press.
                typed = match_label(text, turn.state.drawn_choices())
                if typed is not None:
                    _action(turn, typed)
                else:
                    _text(turn, text)
    except Refused as refusal:
        _refused(turn, refusal.message)


def _secretariat_in_bound_group(turn: Turn) -> bool:
    """A secretariat member speaking in the agency's bound group uses the desk there."""
    if turn.member is None or not turn.is_secretariat:
        return False
    binding = binding_for_chat(session=turn.session, channel=turn.incoming.channel,
                               chat_id=turn.incoming.chat_id)
    if binding is None or binding.agency_id != turn.member.agency_id:
        return False
    command = parse_command(turn.incoming.text or "")
    # Only the desk's words are taken in the group; other talk stays people's talk.
    return (turn.incoming.action is not None
            or (command is not None and (secretariat.is_desk_command(command.name)
                                         or command.name in ("overview", "help", "proposals")))
            or turn.state.mode == Mode.DIALOG)


def _text(turn: Turn, text: str) -> None:
    command = parse_command(text)
    if command is None and turn.state.mode == Mode.IDLE and propose.paste_new(turn, text):
        return
    if command is None:
        assessment.show_menu_hint(turn)
        return
    _command(turn, command.name, command.arg)


def _command(turn: Turn, name: str, arg: str = "") -> None:
    if name in ("menu", "start", "bind"):
        assessment.show_menu(turn)
    elif name == "fill":
        assess.resume(turn)
    elif name == "help":
        assessment.show_help(turn)
    elif name == "progress":
        assessment.show_progress(turn)
    elif name == "overview":
        assessment.show_overview(turn)
    elif name == "pause":
        assessment.show_menu(turn, prefix="您的答案都已儲存。")
    elif name == "cancel":
        assessment.show_menu(turn, prefix="已取消。")
    elif name == "goto":
        assess.goto(turn, arg)
    elif name == "review":
        assess.show_review(turn)
    elif name in ("submit", "confirm"):
        assess.request_submit(turn)
    elif name in ("back", "skip", "next", "rescore"):
        assess.resume(turn)
    elif name == "verify":
        verify.start(turn, arg)
    elif name == "phonetest":
        secretariat.record_phone(turn, arg)
    elif name == "table":
        secretariat.send_table(turn, arg)
    elif name == "followup":
        secretariat.set_follow_up_note(turn, arg)
    elif name == "annual":
        secretariat.send_annual(turn, arg)
    elif name == "propose":
        propose.start(turn)
    elif name == "proposals":
        proposals.show_list(turn, arg)
    elif name == "cases":
        cases.start(turn)
    elif name == "caselist":
        cases.show_list(turn)
    elif name == "report":
        secretariat.send_report(turn, arg)
    else:  # pragma: no cover - parse_command only yields the names above
        assessment.show_menu_hint(turn)


def _action(turn: Turn, action: str) -> None:
    try:
        token = parse_token(action)
    except TokenError:
        logger.warning("unparseable action token from member %s",
                       turn.member.id if turn.member else None)
        _refused(turn, texts.UNKNOWN_BUTTON)
        return
    if token.verb == "m":
        entry = token.args[0] if token.args else "menu"
        if entry not in ("fill", "progress", "overview", "help", "menu", "propose", "proposals",
                         "cases", "table", "review"):
            _refused(turn, texts.UNKNOWN_BUTTON)
            return
        if turn.incoming.chat_kind == ChatKind.GROUP and entry not in assessment.DESK_ENTRIES:
            _refused(turn, texts.NOT_IN_GROUP)
            return
        _command(turn, entry)
        return
    if token.verb == "vo":  # a notice's 開始審定 button: opens a view, changes nothing
        verify.open_from_notice(turn, token)
        return
    if token.verb in decide.VERBS:  # on notices: checked by the proposal's mark
        decide.handle_press(turn, token)
        return
    if token.verb in proposals.STEPLESS_VERBS:  # 補充提案 on a notice
        proposals.handle_stepless(turn, token)
        return
    if token.step != turn.previous_step:
        _refused(turn, texts.STALE_BUTTON)
        return
    if token.verb in proposals.VERBS:
        proposals.handle_action(turn, token)
        return
    if token.verb in secretariat.REPORT_VERBS:
        secretariat.handle_report_action(turn, token)
        return
    _refused(turn, texts.UNKNOWN_BUTTON)


def _refused(turn: Turn, message: str) -> None:
    """Say why nothing happened, then show where the member is (the step is redrawn)."""
    turn.replies.clear()
    state = turn.state
    if turn.member is None:
        turn.say(message)
        return
    try:
        if state.mode == Mode.DIALOG and ENGINE.redraw(turn, prefix=message):
            return
        assessment.show_menu(turn, prefix=message)
    except Refused as inner:
        turn.replies.clear()
        turn.say(f"{message}\n{inner.message}", assessment.main_menu_choices(turn))
