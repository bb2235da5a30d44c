"""The root under every dialog: the menu, the desk's one-shot commands and onboarding.

Nothing here waits for a next message, so it is declared as the engine's :class:`Root`
rather than as windows: which typed word does what, which lasting button (on a menu or a
notice, valid however old) does what, and who is let in at all — a stranger with an
invitation code, a group that binds itself as the secretariat's, a member following or
leaving. Each entry opens a dialog (填寫自評 → ``assess``, 審定 → ``verify`` …) or answers
at once (我的進度, 總表, 年度報告).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from handlers import assessment, proposals, secretariat, texts
from handlers.commands import parse_command
from handlers.dialogs import assess, cases, decide, propose, verify
from handlers.flow import Event, Lifecycle, Refused, Root
from handlers.flow.dialog import RootCommand, RootPress
from handlers.forms import send_form
from handlers.messages import ChatKind
from handlers.onboarding import handle_group, handle_lifecycle, handle_stranger
from handlers.tokens import Token
from handlers.turn import Turn
from storage.org import binding_for_chat

logger = logging.getLogger(__name__)

#: 選單's entries, as the lasting buttons ``0:m:<entry>`` name them
ENTRIES = ("fill", "progress", "overview", "help", "menu", "propose", "proposals", "cases",
           "table", "review")


# --- who is let in ---------------------------------------------------------------------------


def _gate(turn: Turn, event: Event) -> bool:
    """Onboarding's part: True when the event was not a member's conversation."""
    if isinstance(event, Lifecycle):
        handle_lifecycle(turn)
        return True
    if turn.incoming.chat_kind == ChatKind.GROUP and not _desk_in_bound_group(turn):
        handle_group(turn)
        return True
    if turn.member is None:
        handle_stranger(turn)
        return True
    return False


def _desk_in_bound_group(turn: Turn) -> bool:
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
                                         or command.name in _GROUP_WORDS))
            or turn.state.dialog is not None)


#: Words of the menu that the secretariat may also use in its bound group.
_GROUP_WORDS = ("overview", "help", "proposals", "form")


# --- typed words -----------------------------------------------------------------------------


def _menu(turn: Turn, _: str) -> None:
    assessment.show_menu(turn)


def _pause(turn: Turn, _: str) -> None:
    assessment.show_menu(turn, prefix="您的答案都已儲存。")


def _cancel(turn: Turn, _: str) -> None:
    assessment.show_menu(turn, prefix="已取消。")


def _resume(turn: Turn, _: str) -> None:
    assess.resume(turn)


def _no_arg(show: Callable[[Turn], None]) -> RootCommand:
    """A command whose words take no argument."""
    def command(turn: Turn, _: str) -> None:
        show(turn)
    return command


COMMANDS: dict[str, RootCommand] = {
    # the menu and the section's own
    "menu": _menu, "start": _menu, "bind": _menu,
    "fill": _resume, "back": _resume, "skip": _resume, "next": _resume, "rescore": _resume,
    "help": _no_arg(assessment.show_help),
    "progress": _no_arg(assessment.show_progress),
    "overview": _no_arg(assessment.show_overview),
    "pause": _pause, "cancel": _cancel,
    "goto": assess.goto,
    "review": _no_arg(assess.show_review),
    "submit": _no_arg(assess.request_submit), "confirm": _no_arg(assess.request_submit),
    "propose": _no_arg(propose.start),
    "proposals": proposals.show_list,
    "cases": _no_arg(cases.start), "caselist": _no_arg(cases.show_list),
    "form": send_form,
    # the desk's
    "verify": verify.start,
    "phonetest": secretariat.record_phone,
    "table": secretariat.send_table,
    "followup": secretariat.set_follow_up_note,
    "annual": secretariat.send_annual,
    "report": secretariat.send_report,
}


def _text(turn: Turn, text: str) -> None:
    """Words that are no command: a whole proposal pasted at the menu, else the hint."""
    if propose.paste_new(turn, text):
        return
    assessment.show_menu_hint(turn)


def _file(turn: Turn) -> None:
    assessment.show_menu_hint(turn, prefix="目前沒有正在填答的題目，檔案未被保存。")


# --- buttons ---------------------------------------------------------------------------------


def _entry(turn: Turn, token: Token) -> None:
    """A menu's button (``0:m:fill``), however old the message it is on."""
    entry = token.args[0] if token.args else "menu"
    if entry not in ENTRIES:
        raise Refused(texts.UNKNOWN_BUTTON)
    if turn.incoming.chat_kind == ChatKind.GROUP and entry not in assessment.DESK_ENTRIES:
        raise Refused(texts.NOT_IN_GROUP)
    COMMANDS[entry](turn, "")


LASTING: dict[str, RootPress] = {
    "m": _entry,
    "vo": verify.open_from_notice,  # 開始審定 under a submission notice
    **{verb: decide.handle_press for verb in decide.VERBS},  # checked by the proposal's mark
    **{verb: proposals.handle_stepless for verb in proposals.STEPLESS_VERBS},  # 補充提案
}

STEPPED: dict[str, RootPress] = {
    **{verb: proposals.handle_action for verb in proposals.VERBS},  # 提案清單's buttons
    **{verb: secretariat.handle_report_action for verb in secretariat.REPORT_VERBS},  # 年度報告
}


def _refused(turn: Turn, message: str) -> None:
    """Nothing happened: why, then the menu (no dialog is on top to draw again)."""
    turn.replies.clear()
    if turn.member is None:
        turn.say(message)
        return
    try:
        assessment.show_menu(turn, prefix=message)
    except Refused as inner:
        turn.replies.clear()
        turn.say(f"{message}\n{inner.message}", assessment.main_menu_choices(turn))


ROOT = Root(gate=_gate, commands=COMMANDS, lasting=LASTING, stepped=STEPPED,
            on_text=_text, on_file=_file, refused=_refused)
