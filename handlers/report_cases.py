"""年度案例: each section's 個案事例 for the annual 績效總報告, in a short guided flow.

The seed's report asks, under each of the five headings of 壹、執行績效, for 2 or 3 cases
(個案事例) quantified where possible, and under 貳、檢討 for the problems found, the
difficulties met and suggestions. Any bound member of an assessed section chooses a heading,
writes a case, is asked for its numbers (which may be skipped), and can add more, list the
section's cases and delete one. A section may offer at most
:data:`storage.report_cases.MAX_PER_HEADING` per heading (and as many 檢討 points), so the
secretariat's draft stays near three pages.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from handlers import texts
from handlers.assessment import Refused
from handlers.commands import Command
from handlers.messages import Choice
from handlers.proposal_text import has_numbers
from handlers.state import Mode
from handlers.tokens import Token, TokenError
from handlers.turn import Turn
from reports.performance import HEADINGS, chinese_number
from rubric import Period
from storage.models import ReportCase, Section
from storage.report_cases import (
    HEADING_NUMBERS,
    MAX_PER_HEADING,
    REVIEW_HEADING,
    add_report_case,
    count_report_cases,
    delete_report_case,
    get_report_case,
    list_report_cases,
    set_figures,
)

logger = logging.getLogger(__name__)

MODES = (Mode.CASE_TEXT, Mode.CASE_FIGURES)
VERBS = ("ch", "cs", "cl", "cd", "cm")
TEXT_MAX = 400  # 請扼要填寫: one case is a paragraph of the report
LIST_BUTTONS = 9
_INTRO = ("請就「壹、執行績效」五個項目，各列舉2、3個個案事例，並請儘量以量化數據說明實施成果；"
          "「貳、檢討」請簡要條列推動及執行過程中發現之問題、遭遇困難及改進建議。")


def heading_label(heading: int) -> str:
    """``一、提升服務品質，深化服務績效``, or ``貳、檢討`` for 0."""
    if heading == REVIEW_HEADING:
        return "貳、檢討"
    return f"{chinese_number(heading)}、{HEADINGS[heading - 1]}"


def _quote(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def _year(turn: Turn) -> int:
    return Period.of(turn.now).roc_year


def _section(turn: Turn) -> Section:
    """The member's section, if it is one that is assessed (and so reports cases)."""
    assert turn.member is not None
    section = turn.session.get(Section, turn.member.section_id) \
        if turn.member.section_id is not None else None
    if section is None or not section.assessed:
        raise Refused("年度案例由受考核的各課室提供；您的帳號沒有所屬的受考核課室。")
    return section


def _counts(turn: Turn, section: Section) -> dict[int, int]:
    assert section.id is not None
    return {heading: count_report_cases(session=turn.session, section_id=section.id,
                                        roc_year=_year(turn), heading=heading)
            for heading in (*HEADING_NUMBERS, REVIEW_HEADING)}


def _unit(heading: int) -> str:
    return "點" if heading == REVIEW_HEADING else "件"


def start(turn: Turn, *, prefix: str | None = None) -> None:
    """年度案例: the headings with what the section has offered under each."""
    section = _section(turn)
    counts = _counts(turn, section)
    year = _year(turn)
    lines = [f"【年度案例】{year}年度提升服務品質績效總報告（資料截止時間：{year}年12月31日）",
             _INTRO, f"{section.name}目前已提供："]
    lines += [f"{heading_label(h)}：{counts[h]} {_unit(h)}" for h in (*HEADING_NUMBERS,
                                                                       REVIEW_HEADING)]
    lines.append("請選擇要填寫的項目：")
    turn.state.to_menu()
    choices = [turn.choice(heading_label(h), "ch", h) for h in (*HEADING_NUMBERS,
                                                                 REVIEW_HEADING)]
    choices += [turn.choice(texts.CASE_LIST, "cl"), turn.menu_choice(texts.MENU, "menu")]
    text = "\n".join(lines)
    turn.say(f"{prefix}\n\n{text}" if prefix else text, choices)


def choose(turn: Turn, heading: int) -> None:
    """A heading was chosen: ask for a case (refused when the section has enough)."""
    section = _section(turn)
    assert section.id is not None
    count = count_report_cases(session=turn.session, section_id=section.id,
                               roc_year=_year(turn), heading=heading)
    label = heading_label(heading)
    if count >= MAX_PER_HEADING:
        start(turn, prefix=f"{section.name}在「{label}」已有 {count} {_unit(heading)}，"
                           f"每項以2、3{_unit(heading)}為限（績效總報告不得超過3頁）。"
                           f"如要改提供其他{'內容' if heading == REVIEW_HEADING else '案例'}，"
                           f"請先在「{texts.CASE_LIST}」刪除一{_unit(heading)}，或選擇其他項目。")
        return
    state = turn.state
    state.to_menu()
    state.mode, state.case_heading, state.case_id = Mode.CASE_TEXT, heading, None
    if heading == REVIEW_HEADING:
        ask = ("請條列一點：推動及執行提升服務品質過程中發現之問題、遭遇困難或改進建議"
               f"（{TEXT_MAX} 字以內）。")
    else:
        ask = ("請輸入一件個案事例：扼要說明做法與成果（例如：河川公地申請導入線上預審，"
               f"民眾免往返送件）。{TEXT_MAX} 字以內；數據下一步再問。")
    turn.say(f"【{label}】第 {count + 1} {_unit(heading)}（每項2、3{_unit(heading)}）\n{ask}",
             [turn.choice(texts.CASE_HEADINGS, "cm"), turn.menu_choice(texts.MENU, "menu")])


def _write(turn: Turn, text: str) -> None:
    """The case's text, typed after choosing its heading."""
    heading = turn.state.case_heading
    if heading is None or (heading != REVIEW_HEADING and heading not in HEADING_NUMBERS):
        start(turn)
        return
    cleaned = text.strip()
    if not cleaned or len(cleaned) > TEXT_MAX:
        problem = "請輸入內容。" if not cleaned else \
            f"內容有 {len(cleaned)} 字，請扼要寫在 {TEXT_MAX} 字以內。"
        turn.say(f"{problem}（{heading_label(heading)}）",
                 [turn.choice(texts.CASE_HEADINGS, "cm"), turn.menu_choice(texts.MENU, "menu")])
        return
    assert turn.member is not None
    # Two members of a section writing at once: the limit is checked again, under a lock.
    case = add_report_case(session=turn.session, member=turn.member, roc_year=_year(turn),
                           heading=heading, text=cleaned, now=turn.now)
    if case is None:
        choose(turn, heading)
        return
    if heading == REVIEW_HEADING:
        _done(turn, case)
        return
    _ask_figures(turn, case)


def _ask_figures(turn: Turn, case: ReportCase, *, prefix: str = "已記錄個案事例。") -> None:
    state = turn.state
    state.mode, state.case_id = Mode.CASE_FIGURES, case.id
    seen = "內容中已有數據，可再補充或按「略過」。" if has_numbers(case.text) \
        else f"沒有數據請按「{texts.SKIP}」。"
    turn.say(f"{prefix}\n請輸入量化數據，例如：線上申辦率由35%提升至62%、全年服務1,200人次、"
             f"處理天數由14天縮短為5天。{seen}",
             [turn.choice(texts.SKIP, "cs", case.id)])


def _done(turn: Turn, case: ReportCase) -> None:
    """The case is recorded: what now."""
    turn.state.to_menu()
    turn.state.case_id = None
    section = _section(turn)
    assert section.id is not None
    count = count_report_cases(session=turn.session, section_id=section.id,
                               roc_year=case.roc_year, heading=case.heading)
    label = heading_label(case.heading)
    lines = [f"已記錄「{label}」第 {count} {_unit(case.heading)}：{_quote(case.text, 60)}"]
    if case.figures:
        lines.append(f"量化成果：{case.figures}")
    elif case.heading != REVIEW_HEADING:
        lines.append("（未提供量化數據）")
    choices: list[Choice] = []
    if count < MAX_PER_HEADING:
        unit = _unit(case.heading)
        lines.append(f"本項已 {count} {unit}，可再新增（每項2、3{unit}）。")
        choices.append(turn.choice(texts.CASE_ANOTHER.format(unit=unit), "ch", case.heading))
    else:
        lines.append(f"本項已達 {MAX_PER_HEADING} {_unit(case.heading)}。")
    choices += [turn.choice(texts.CASE_HEADINGS, "cm"), turn.choice(texts.CASE_LIST, "cl"),
                turn.menu_choice(texts.MENU, "menu")]
    turn.say("\n".join(lines), choices)


def _figures(turn: Turn, text: str | None) -> None:
    """The numbers of the case just written (None: skipped)."""
    case = _own_case(turn, turn.state.case_id)
    if text is not None and text.strip():
        if len(text.strip()) > TEXT_MAX:
            _ask_figures(turn, case, prefix=f"數據請寫在 {TEXT_MAX} 字以內。")
            return
        set_figures(session=turn.session, case=case, figures=text)
    _done(turn, case)


def _own_case(turn: Turn, case_id: int | None) -> ReportCase:
    """A case of the member's section; Refused otherwise."""
    section = _section(turn)
    case = get_report_case(session=turn.session, case_id=case_id) if case_id is not None \
        else None
    if case is None or case.section_id != section.id:
        logger.warning("refused report case %s to member %s", case_id,
                       turn.member.id if turn.member else None)
        raise Refused("這件案例不屬於您的課室，或已被刪除。")
    return case


def show_list(turn: Turn, *, prefix: str | None = None) -> None:
    """本課室案例: the section's cases of the year, with 刪除 buttons."""
    section = _section(turn)
    assert section.id is not None
    cases = list_report_cases(session=turn.session, agency_id=section.agency_id,
                              roc_year=_year(turn), section_id=section.id)
    lines = [f"{section.name} {_year(turn)}年度案例（共 {len(cases)} 則）"]
    choices: list[Choice] = []
    heading = None
    for number, case in enumerate(cases, start=1):
        if case.heading != heading:
            heading = case.heading
            lines.append(f"【{heading_label(heading)}】")
        figures = f"（量化成果：{_quote(case.figures, 40)}）" if case.figures else ""
        kept = "" if case.kept else "［秘書室未列入報告］"
        lines.append(f"{number}. {_quote(case.text, 60)}{figures}{kept}")
        if len(choices) < LIST_BUTTONS:
            choices.append(turn.choice(f"刪除 {number}", "cd", case.id))
    if not cases:
        lines.append("還沒有提供案例。")
    turn.state.to_menu()
    text = "\n".join(lines)
    turn.say(f"{prefix}\n{text}" if prefix else text,
             [*choices, turn.choice(texts.CASE_HEADINGS, "cm"),
              turn.menu_choice(texts.MENU, "menu")])


def _delete(turn: Turn, case_id: int) -> None:
    case = _own_case(turn, case_id)
    label, quoted = heading_label(case.heading), _quote(case.text, 30)
    delete_report_case(session=turn.session, case=case)
    show_list(turn, prefix=f"已刪除「{label}」：{quoted}")


def handle_action(turn: Turn, token: Token) -> None:
    """A button of the flow (the step was checked by the dispatcher)."""
    try:
        if token.verb == "ch":
            heading = token.int_arg(0)
            if heading != REVIEW_HEADING and heading not in HEADING_NUMBERS:
                raise Refused(texts.UNKNOWN_BUTTON)
            choose(turn, heading)
        elif token.verb == "cs":
            if turn.state.mode != Mode.CASE_FIGURES or turn.state.case_id != token.int_arg(0):
                raise Refused(texts.STALE_BUTTON)
            _figures(turn, None)
        elif token.verb == "cl":
            show_list(turn)
        elif token.verb == "cd":
            _delete(turn, token.int_arg(0))
        else:
            start(turn)
    except TokenError:
        raise Refused(texts.UNKNOWN_BUTTON) from None


def handle_text(turn: Turn, text: str, command: Command | None) -> bool:
    """Typed input while writing a case; False if it is not for this flow."""
    mode = turn.state.mode
    if mode not in MODES:
        return False
    if command is not None:
        if command.name in ("skip", "next") and mode == Mode.CASE_FIGURES:
            _figures(turn, None)
            return True
        if command.name in ("skip", "back"):
            start(turn)
            return True
        return False  # 取消, 選單 and the rest: as anywhere else
    if mode == Mode.CASE_TEXT:
        _write(turn, text)
    else:
        _figures(turn, text)
    return True


def redraw(turn: Turn, *, prefix: str | None = None) -> bool:
    """Show again where the member is in the flow; False if not in it."""
    state = turn.state
    if state.mode == Mode.CASE_FIGURES and state.case_id is not None:
        try:
            case = _own_case(turn, state.case_id)
        except Refused:
            return False
        _ask_figures(turn, case, prefix=prefix or "")
        return True
    if state.mode == Mode.CASE_TEXT and state.case_heading is not None:
        heading = state.case_heading
        choose(turn, heading)
        if prefix:
            turn.replies[-1] = replace(turn.replies[-1],
                                       text=f"{prefix}\n{turn.replies[-1].text}")
        return True
    return False
