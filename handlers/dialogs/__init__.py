"""The conversations declared for the engine (``handlers.flow``), one module per dialog,
with its views beside it (``<dialog>_views.py``: pure functions of view models)."""

from __future__ import annotations

from handlers import texts
from handlers.commands import parse_command
from handlers.dialogs import assess, cases, decide, propose, verify
from handlers.flow import Dialog, Engine, EngineTexts

DIALOGS: tuple[Dialog, ...] = (assess.DIALOG, verify.DIALOG, cases.DIALOG, decide.DIALOG,
                              propose.DIALOG)


def _command(text: str) -> tuple[str, str] | None:
    command = parse_command(text)
    return None if command is None else (command.name, command.arg)


def build_engine() -> Engine:
    """The engine with every declared dialog, and the menu under them."""
    from handlers.dialogs.menu import ROOT

    return Engine(DIALOGS, root=ROOT, parse_command=_command, texts=EngineTexts(
        stale=texts.STALE_BUTTON, unknown=texts.UNKNOWN_BUTTON,
        use_buttons="請使用下方的按鈕。", no_file="這一步不收檔案，請使用下方的按鈕或輸入文字。"))


__all__ = ["DIALOGS", "build_engine"]
