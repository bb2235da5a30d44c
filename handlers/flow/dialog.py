"""How a conversation is declared: a :class:`Dialog` of :class:`Window`\\ s with widgets.

A window says where its data comes from (``getter``, which reads through ``storage/``),
what the person sees (``render``, pure: view → :class:`Outgoing`, no database), what they
can press (its widgets, drawn by the engine as buttons in order) and what it does with
typed text, typed commands and files. The engine (``handlers.flow.engine``) does the rest:
it routes an event to the window on top, checks every press against the widgets of the
window it was drawn for, takes a typed label as that press, redraws after a refusal and
asks before a word from another dialog leaves this one.

Nothing here knows a domain word: the labels and prompts come from the declarations.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from handlers.messages import Attachment, Outgoing

if TYPE_CHECKING:
    from handlers.flow.engine import Context
    from handlers.flow.events import Event
    from handlers.tokens import Token
    from handlers.turn import Turn

_WIDGET_ID = re.compile(r"^[a-z][a-z0-9]{0,5}$")

Getter = Callable[["Context"], Any]
Render = Callable[[Any], Outgoing]
OnPress = Callable[["Context", tuple[str, ...]], None]
OnText = Callable[["Context", str], None]
OnFile = Callable[["Context", Attachment], None]
OnCommand = Callable[["Context", str], None]


class Refused(Exception):
    """The action cannot be done; ``message`` says why (zh-TW) and nothing was changed.

    Raised by a step; the engine clears that event's replies and redraws the window the
    person is on with ``message`` above it.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Closed(Exception):
    """A step or getter found the dialog cannot go on, said so and where the person is
    now; the engine closes the dialog and keeps what was said."""


@dataclass(frozen=True)
class Button:
    """A button of a window: ``id`` is its token's verb, unique in the window.

    ``label`` is text or a function of the view; ``when`` hides it for some views;
    ``args`` adds arguments to its token (an item of a list, say), which ``on_press`` gets.
    """

    id: str
    label: str | Callable[[Any], str]
    on_press: OnPress
    when: Callable[[Any], bool] | None = None
    args: Callable[[Any], tuple[str, ...]] | None = None

    def __post_init__(self) -> None:
        if not _WIDGET_ID.match(self.id):
            raise ValueError(f"widget id {self.id!r}: 1-6 lower-case letters and digits, "
                             "starting with a letter")

    def visible(self, view: Any) -> bool:
        """Whether the button is drawn for ``view``."""
        return self.when is None or bool(self.when(view))

    def label_for(self, view: Any) -> str:
        """The label drawn for ``view``."""
        return self.label(view) if callable(self.label) else self.label


@dataclass(frozen=True)
class Select:
    """A button per item of a list in the view (``items(view) -> [(label, value), …]``)."""

    id: str
    items: Callable[[Any], list[tuple[str, str]]]
    on_pick: OnPress

    def __post_init__(self) -> None:
        if not _WIDGET_ID.match(self.id):
            raise ValueError(f"widget id {self.id!r}: 1-6 lower-case letters and digits, "
                             "starting with a letter")


Widget = Button | Select


@dataclass(frozen=True)
class Window:
    """One screen of a dialog."""

    name: str
    getter: Getter
    render: Render
    widgets: tuple[Widget, ...] = ()
    on_text: OnText | None = None
    on_file: OnFile | None = None
    #: typed commands (``handlers.commands`` names) this window takes itself
    commands: Mapping[str, OnCommand] = field(default_factory=dict)
    #: nothing is in progress here (a list, a summary): what the window does not take —
    #: a word, a button or a file of elsewhere — closes the dialog and goes where it
    #: belongs, without asking whether to leave
    settled: bool = False
    #: what a file sent here is told, when the window takes none
    no_file: str | None = None
    #: whether a file would be kept, by the dialog's data (asked before its bytes are
    #: fetched); by default whenever the window has ``on_file``
    takes_file: Callable[[Any], bool] | None = None

    def __post_init__(self) -> None:
        ids = [w.id for w in self.widgets]
        if len(ids) != len(set(ids)):
            raise ValueError(f"window {self.name!r}: widget ids repeat: {ids}")


@dataclass(frozen=True)
class LeavePrompt:
    """What the engine asks before a word from elsewhere leaves the dialog."""

    question: str  # 要離開審定嗎？
    stay: str  # 繼續審定
    leave: str  # 離開


@dataclass(frozen=True)
class Dialog:
    """A conversation: its windows, its data model and how it is left."""

    name: str
    data: type[BaseModel]
    windows: tuple[Window, ...]
    leave: LeavePrompt
    #: typed commands every window of the dialog takes (a window's own come first)
    commands: Mapping[str, OnCommand] = field(default_factory=dict)
    #: verbs of lasting buttons (on notices) that open this dialog anew: pressed while it is
    #: open they replace it without asking
    reopened_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = [w.name for w in self.windows]
        if len(names) != len(set(names)):
            raise ValueError(f"dialog {self.name!r}: window names repeat: {names}")

    def window(self, name: str) -> Window:
        """The window called ``name``; KeyError if the dialog has none."""
        for window in self.windows:
            if window.name == name:
                return window
        raise KeyError(f"dialog {self.name!r} has no window {name!r}")


RootCommand = Callable[["Turn", str], None]
RootPress = Callable[["Turn", "Token"], None]


@dataclass(frozen=True)
class Root:
    """Where an event goes when no dialog is on top, or a dialog handed it on: the router
    node under every dialog (the menu). It keeps nothing between messages, so it is no
    window: its buttons are the lasting ones of menus and notices.

    ``gate`` sees every event first and takes those that are not a member's conversation
    (a stranger's invitation code, a group's talk, a follow or unfollow): True when it
    took it. ``commands`` are the typed words; ``lasting`` the verbs of buttons that stay
    valid in old messages (checked by their own arguments, whatever their step);
    ``stepped`` the verbs of buttons on a message that is no dialog's, valid until the
    conversation moves on. ``on_text`` and ``on_file`` take what none of these is;
    ``refused`` says why nothing happened and shows where the person is.
    """

    gate: Callable[[Turn, Event], bool]
    commands: Mapping[str, RootCommand]
    lasting: Mapping[str, RootPress]
    stepped: Mapping[str, RootPress]
    on_text: RootCommand
    on_file: Callable[[Turn], None]
    refused: RootCommand
