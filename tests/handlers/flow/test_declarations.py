"""The declarations hold together: every dialog, the root under them, and a dispatcher that
routes nothing itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import BaseModel

from handlers.dialogs import DIALOGS, build_engine
from handlers.dialogs.menu import ROOT
from handlers.flow import Button, Dialog, Engine, EngineTexts, LeavePrompt, Window
from handlers.messages import Outgoing

ROOT_DIR = Path(__file__).resolve().parents[3]
TEXTS = EngineTexts(stale="stale", unknown="unknown", use_buttons="buttons", no_file="no file")


class _Data(BaseModel):
    pass


def _dialog(reopened_by: tuple[str, ...]) -> Dialog:
    window = Window("only", getter=lambda ctx: None, render=lambda view: Outgoing("x"),
                    widgets=(Button("go", "走", lambda ctx, args: None),))
    return Dialog("probe", data=_Data, windows=(window,),
                  leave=LeavePrompt("要離開嗎？", "繼續", "離開"), reopened_by=reopened_by)


def test_every_declared_dialog_builds_into_one_engine():
    engine = build_engine()
    assert set(engine.dialogs) == {d.name for d in DIALOGS}
    assert {"assess", "verify", "decide", "cases", "propose"} <= set(engine.dialogs)


def test_a_dialog_reopened_by_a_button_the_root_never_routes_is_refused():
    with pytest.raises(ValueError, match="no lasting button"):
        Engine([_dialog(("nope",))], root=ROOT, parse_command=lambda text: None, texts=TEXTS)
    Engine([_dialog(("vo",))], root=ROOT, parse_command=lambda text: None, texts=TEXTS)


def test_the_engines_own_widget_ids_are_reserved():
    window = Window("only", getter=lambda ctx: None, render=lambda view: Outgoing("x"),
                    widgets=(Button("ys", "走", lambda ctx, args: None),))
    dialog = Dialog("probe", data=_Data, windows=(window,),
                    leave=LeavePrompt("要離開嗎？", "繼續", "離開"))
    with pytest.raises(ValueError, match="reserved"):
        Engine([dialog], root=ROOT, parse_command=lambda text: None, texts=TEXTS)


def test_root_verbs_do_not_collide():
    assert not set(ROOT.lasting) & set(ROOT.stepped)


def test_the_dispatcher_routes_nothing_itself():
    """dispatch.py holds the transaction and one engine call: it imports no flow."""
    tree = ast.parse((ROOT_DIR / "handlers" / "dispatch.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported |= {f"{node.module}.{alias.name}" for alias in node.names}
    flows = {name for name in imported if name.split(".")[1:2] and name.startswith("handlers.")
             and name.split(".")[1] in ("assessment", "proposals", "secretariat", "onboarding",
                                        "commands", "reminders")}
    assert flows == set(), flows
    dialogs = {name for name in imported if name.startswith("handlers.dialogs")}
    assert dialogs == {"handlers.dialogs.build_engine"}
