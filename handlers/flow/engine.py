"""The dialog engine: routes one event to the window on top, or hands it on.

Like goflow's session it does no I/O of its own: it reads the state row's dialog
document, calls the window's declared steps (which read and write through ``storage/``),
draws the window the step asked for and writes the document back — all inside the event's
transaction, owned by the dispatcher.

The state document of an open dialog::

    {"name": "verify", "window": "question", "data": {...}, "leaving": null}

``leaving`` holds the event that would leave the dialog while the engine asks whether to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from handlers.flow.dialog import Button, Closed, Dialog, Refused, Root, Select, Window
from handlers.flow.events import Event, File, Lifecycle, Press, Text
from handlers.flow.labels import match_label
from handlers.messages import Choice, Outgoing
from handlers.tokens import Token, TokenError, parse_token
from handlers.turn import Turn

logger = logging.getLogger(__name__)

STAY, LEAVE = "ys", "yl"  # the engine's own widgets (dialogs' ids never start with y)
#: Parses a typed text into (command name, argument), or None when it is no command.
CommandParser = Callable[[str], tuple[str, str] | None]


@dataclass(frozen=True)
class EngineTexts:
    """The engine's few words, chosen by the handlers (zh-TW)."""

    stale: str
    unknown: str
    use_buttons: str
    no_file: str


class Context:
    """What a step of a window may read and ask for."""

    def __init__(self, turn: Turn, dialog: Dialog, window: Window, data: BaseModel) -> None:
        self.turn = turn
        self.dialog = dialog
        self.window = window
        self.data = data
        self.next_window: str | None = window.name
        self.prefix: str | None = None
        self.closed = False
        #: how the window is drawn this once (not kept: the getter reads them, e.g. brief)
        self.hints: dict[str, Any] = {}

    def show(self, window: str, *, prefix: str | None = None, **hints: Any) -> None:
        """Draw ``window`` of this dialog when the step returns (``prefix`` above it;
        ``hints`` for its getter, this drawing only)."""
        self.dialog.window(window)  # fail fast on a typo
        self.next_window = window
        self.prefix = prefix
        self.hints = hints

    def redraw(self, *, prefix: str | None = None) -> None:
        """Draw the current window again."""
        self.show(self.window.name, prefix=prefix)

    def close(self) -> None:
        """Leave the dialog; the step says where the person is now (it may open another
        dialog after this, which stays open)."""
        self.closed = True
        self.next_window = None
        self.turn.state.close_dialog()


def start_dialog(turn: Turn, dialog: Dialog, data: BaseModel, *, window: str | None = None,
                 prefix: str | None = None, **hints: Any) -> None:
    """Open ``dialog`` on ``window`` (its first by default) and draw it."""
    target = dialog.window(window) if window else dialog.windows[0]
    context = Context(turn, dialog, target, data)
    context.prefix = prefix
    context.hints = hints
    before = turn.state.dialog
    try:
        Engine._draw(context)
    except Closed:
        _closed(turn, before)


def _choices(turn: Turn, widget: Button | Select, view: Any) -> list[Choice]:
    step = turn.state.step
    if isinstance(widget, Button):
        if not widget.visible(view):
            return []
        args = widget.args(view) if widget.args else ()
        return [Choice(widget.label_for(view), Token(step, widget.id, args).encode())]
    return [Choice(label, Token(step, widget.id, (value,)).encode())
            for label, value in widget.items(view)]


class Engine:
    """Runs the declared dialogs."""

    def __init__(self, dialogs: Iterable[Dialog], *, root: Root, parse_command: CommandParser,
                 texts: EngineTexts) -> None:
        self.dialogs = {d.name: d for d in dialogs}
        self.root = root
        reopening = {verb for d in self.dialogs.values() for verb in d.reopened_by}
        if missing := reopening - set(root.lasting):
            raise ValueError(f"reopening verbs {sorted(missing)} have no lasting button "
                             "in the root")
        for dialog in self.dialogs.values():
            for window in dialog.windows:
                for widget in window.widgets:
                    if widget.id.startswith("y"):
                        raise ValueError(f"{dialog.name}.{window.name}: widget id "
                                         f"{widget.id!r} is reserved (y…) for the engine")
        self.parse_command = parse_command
        self.texts = texts

    # --- opening and drawing -----------------------------------------------------------------

    def is_open(self, turn: Turn, dialog: str | None = None) -> bool:
        """Whether a dialog (``dialog``, or any) is on top."""
        document = turn.state.dialog
        return document is not None and (dialog is None or document.get("name") == dialog)

    def takes_file(self, document: dict[str, Any] | None) -> bool:
        """Whether the window on top (per its state ``document``) takes a file."""
        dialog = self.dialogs.get(str(document.get("name"))) if document else None
        if dialog is None or document is None:
            return False
        try:
            window = dialog.window(str(document.get("window")))
        except KeyError:
            return False
        if window.on_file is None:
            return False
        if window.takes_file is None:
            return True
        try:
            data = dialog.data.model_validate(document.get("data") or {})
        except ValidationError:
            return False
        return bool(window.takes_file(data))

    @staticmethod
    def _draw(context: Context) -> None:
        assert context.next_window is not None
        turn = context.turn
        window = context.dialog.window(context.next_window)
        context.window = window
        view = window.getter(context)
        shown = window.render(view)
        choices = list(shown.choices)
        for widget in window.widgets:
            choices += _choices(turn, widget, view)
        text = f"{context.prefix}\n\n{shown.text}" if context.prefix else shown.text
        turn.replies.append(Outgoing(text, tuple(choices), card=shown.card,
                                     document=shown.document, picture=shown.picture))
        turn.state.open_dialog({"name": context.dialog.name, "window": window.name,
                                "data": context.data.model_dump(mode="json"), "leaving": None})

    # --- routing -----------------------------------------------------------------------------

    def route(self, turn: Turn, event: Event) -> None:
        """Handle one event: the root's gate, then the dialog on top, then the root."""
        if self.root.gate(turn, event):
            return
        try:
            handed_on = self.handle(turn, event)
            match handed_on:
                case None:
                    return
                case Press(action=action):
                    self._root_press(turn, action)
                case File():
                    self.root.on_file(turn)
                case Text(text=text):
                    # A typed label of a button just drawn is that button's press.
                    typed = match_label(text, turn.state.drawn_choices())
                    if typed is not None:
                        self._root_press(turn, typed)
                    else:
                        self._root_text(turn, text)
        except Refused as refusal:
            self.refuse(turn, refusal.message)

    def refuse(self, turn: Turn, message: str) -> None:
        """Say why nothing happened; the dialog on top is drawn again, else the root's."""
        turn.replies.clear()
        try:
            if self.redraw(turn, prefix=message):
                return
        except Refused as inner:
            turn.replies.clear()
            message = f"{message}\n{inner.message}"
        self.root.refused(turn, message)

    def _root_press(self, turn: Turn, action: str) -> None:
        try:
            token = parse_token(action)
        except TokenError:
            logger.warning("unparseable action token from member %s",
                           turn.member.id if turn.member else None)
            raise Refused(self.texts.unknown) from None
        lasting = self.root.lasting.get(token.verb)
        if lasting is not None:
            lasting(turn, token)
            return
        if token.step != turn.previous_step:
            raise Refused(self.texts.stale)
        stepped = self.root.stepped.get(token.verb)
        if stepped is None:
            logger.warning("a button %r that no message of the root drew", token.verb)
            raise Refused(self.texts.unknown)
        stepped(turn, token)

    def _root_text(self, turn: Turn, text: str) -> None:
        parsed = self.parse_command(text)
        command = self.root.commands.get(parsed[0]) if parsed is not None else None
        if command is not None and parsed is not None:
            command(turn, parsed[1])
        else:
            self.root.on_text(turn, text)

    def handle(self, turn: Turn, event: Event) -> Event | None:
        """Give ``event`` to the dialog on top; the event to route elsewhere, or None.

        With no dialog open the event is handed back unchanged; when the person chose to
        leave, the dialog is closed and the event that was held is handed back.
        """
        document = turn.state.dialog
        if document is None or isinstance(event, Lifecycle):
            return event
        dialog = self.dialogs.get(str(document.get("name")))
        try:
            window = dialog.window(str(document.get("window"))) if dialog else None
            data = dialog.data.model_validate(document.get("data") or {}) if dialog else None
        except (KeyError, ValidationError):
            window = data = None
        if dialog is None or window is None or data is None:
            logger.warning("dropped an unreadable dialog document %r", document.get("name"))
            turn.state.close_dialog()
            return event
        snapshot = data.model_copy(deep=True)
        context = Context(turn, dialog, window, data)
        try:
            try:
                handed_on = self._route(context, event, document.get("leaving"))
            except Refused as refusal:
                turn.replies.clear()
                context = Context(turn, dialog, window, snapshot)
                context.redraw(prefix=refusal.message)
                handed_on = None
            if handed_on is not None:
                return handed_on
            if not context.closed and context.next_window is not None:
                self._draw(context)
        except Closed:
            _closed(turn, document)
        return None

    def redraw(self, turn: Turn, *, prefix: str | None = None) -> bool:
        """Draw the window on top again (after a refusal elsewhere); False if none is."""
        document = turn.state.dialog
        dialog = self.dialogs.get(str(document.get("name"))) if document else None
        if document is None or dialog is None:
            return False
        try:
            window = dialog.window(str(document.get("window")))
            data = dialog.data.model_validate(document.get("data") or {})
        except (KeyError, ValidationError):
            turn.state.close_dialog()
            return False
        context = Context(turn, dialog, window, data)
        context.prefix = prefix
        try:
            self._draw(context)
        except Closed:
            _closed(turn, document)
        return True

    def _route(self, context: Context, event: Event, leaving: Any) -> Event | None:
        match event:
            case Press(action=action):
                return self._press(context, action, leaving)
            case Text(text=text):
                typed = match_label(text, context.turn.state.drawn_choices())
                if typed is not None:
                    return self._press(context, typed, leaving)
                return self._text(context, text)
            case File(attachment=attachment):
                if context.window.on_file is not None:
                    context.window.on_file(context, attachment)
                elif context.window.settled:
                    return _hand_on(context, event)
                else:
                    context.redraw(prefix=context.window.no_file or self.texts.no_file)
                return None
        return event  # pragma: no cover - Lifecycle is handed on before routing

    def _press(self, context: Context, action: str, leaving: Any) -> Event | None:
        turn = context.turn
        try:
            token = parse_token(action)
        except TokenError:
            logger.warning("unparseable action token in dialog %s", context.dialog.name)
            context.redraw(prefix=self.texts.unknown)
            return None
        if token.step == 0 and token.verb in context.dialog.reopened_by:
            context.next_window = None  # the opener replaces the dialog, or refuses
            return Press(action)
        if token.step == 0:  # a menu's or a notice's button: it belongs elsewhere
            if context.window.settled:
                return _hand_on(context, Press(action))
            self._ask_to_leave(context, Press(action))
            return None
        if token.step != turn.previous_step:
            context.redraw(prefix=self.texts.stale)
            return None
        if leaving and token.verb in (STAY, LEAVE):
            if token.verb == STAY:
                context.redraw()
                return None
            context.close()
            return _event_from_json(leaving)
        view: Any = None
        for widget in context.window.widgets:
            if widget.id != token.verb:
                continue
            view = context.window.getter(context) if view is None else view
            if isinstance(widget, Button) and widget.visible(view):
                expected = widget.args(view) if widget.args else ()
                if tuple(token.args) == tuple(expected):
                    widget.on_press(context, token.args)
                    return None
            if isinstance(widget, Select) and len(token.args) == 1 \
                    and token.args[0] in {value for _, value in widget.items(view)}:
                widget.on_pick(context, token.args)
                return None
        logger.warning("a button %r that window %s.%s did not draw", token.verb,
                       context.dialog.name, context.window.name)
        context.redraw(prefix=self.texts.unknown)
        return None

    def _text(self, context: Context, text: str) -> Event | None:
        parsed = self.parse_command(text)
        if parsed is not None:
            name, arg = parsed
            handler = context.window.commands.get(name) or context.dialog.commands.get(name)
            if handler is not None:
                handler(context, arg)
                return None
            if context.window.settled:
                return _hand_on(context, Text(text))
            self._ask_to_leave(context, Text(text))
            return None
        if context.window.on_text is None:
            if context.window.settled:
                return _hand_on(context, Text(text))
            context.redraw(prefix=self.texts.use_buttons)
        else:
            context.window.on_text(context, text)
        return None

    def _ask_to_leave(self, context: Context, pending: Event) -> None:
        """要離開審定嗎？ — the word or button belongs to another dialog."""
        turn = context.turn
        prompt = context.dialog.leave
        step = turn.state.step
        turn.replies.append(Outgoing(prompt.question, (
            Choice(prompt.stay, Token(step, STAY).encode()),
            Choice(prompt.leave, Token(step, LEAVE).encode()))))
        document = dict(turn.state.dialog or {})
        document["leaving"] = _event_to_json(pending)
        turn.state.open_dialog(document)
        context.next_window = None


def _closed(turn: Turn, document: dict[str, Any] | None) -> None:
    """A step raised Closed: close the dialog it was in, unless it opened another first."""
    if turn.state.dialog is document:
        turn.state.close_dialog()


def _hand_on(context: Context, event: Event) -> Event:
    """Close the dialog (nothing was in progress) and give ``event`` to where it belongs."""
    context.close()
    return event


def _event_to_json(event: Event) -> dict[str, str]:
    if isinstance(event, Press):
        return {"action": event.action}
    assert isinstance(event, Text)
    return {"text": event.text}


def _event_from_json(document: Any) -> Event:
    if isinstance(document, dict) and isinstance(document.get("action"), str):
        return Press(document["action"])
    text = document.get("text") if isinstance(document, dict) else None
    return Text(text if isinstance(text, str) else "")
