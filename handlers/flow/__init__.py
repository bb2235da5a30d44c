"""A declarative dialog engine with no domain words (models: aiogram_dialog, goflow).

See ``dialog`` for how a conversation is declared and ``engine`` for how events are routed.
"""

from handlers.flow.dialog import (
    Button,
    Closed,
    Dialog,
    LeavePrompt,
    Refused,
    Root,
    Select,
    Window,
)
from handlers.flow.engine import Context, Engine, EngineTexts, start_dialog
from handlers.flow.events import Event, File, Lifecycle, Press, Text, event_of
from handlers.flow.labels import label_keys, match_label

__all__ = [
    "Button",
    "Closed",
    "Context",
    "Dialog",
    "Engine",
    "EngineTexts",
    "Event",
    "File",
    "LeavePrompt",
    "Lifecycle",
    "Press",
    "Refused",
    "Root",
    "Select",
    "Text",
    "Window",
    "event_of",
    "label_keys",
    "match_label",
    "start_dialog",
]
