"""年度案例: each section's 個案事例 for the annual 績效總報告, as a dialog.

The seed's report asks, under each of the five headings of 壹、執行績效, for 2 or 3 cases
(個案事例) quantified where possible, and under 貳、檢討 for the problems found, the
difficulties met and suggestions. Any bound member of an assessed section chooses a heading
(``headings``), writes a case (``write``), is asked for its numbers, which may be skipped
(``figures``), and sees it recorded (``done``); ``list`` shows the section's cases with a
刪除 button each. A section may offer at most :data:`storage.report_cases.MAX_PER_HEADING`
per heading (and as many 檢討 points), so the secretariat's draft stays near three pages.

The headings, the summary and the list are settled windows: a word or button of elsewhere
just goes there. Writing a case or its numbers asks before leaving.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel

from handlers import texts
from handlers.assessment import main_menu_choices
from handlers.dialogs import cases_views as views
from handlers.flow import Button, Closed, Context, Dialog, LeavePrompt, Refused, Select, Window
from handlers.flow import start_dialog as open_dialog
from handlers.flow.dialog import OnCommand
from handlers.proposal_text import has_numbers
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

TEXT_MAX = 400  # 請扼要填寫: one case is a paragraph of the report
LIST_BUTTONS = 9
ORDER = (*HEADING_NUMBERS, REVIEW_HEADING)
NO_SECTION = "年度案例由受考核的各課室提供；您的帳號沒有所屬的受考核課室。"


class CasesData(BaseModel):
    """Where the member is: the heading being written, the case just written."""

    heading: int | None = None
    case_id: int | None = None
    just_written: bool = False


def heading_label(heading: int) -> str:
    """``一、提升服務品質，深化服務績效``, or ``貳、檢討`` for 0."""
    if heading == REVIEW_HEADING:
        return "貳、檢討"
    return f"{chinese_number(heading)}、{HEADINGS[heading - 1]}"


def _unit(heading: int) -> str:
    return "點" if heading == REVIEW_HEADING else "件"


def _year(turn: Turn) -> int:
    return Period.of(turn.now).roc_year


def _data(ctx: Context) -> CasesData:
    assert isinstance(ctx.data, CasesData)
    return ctx.data


def section_of(turn: Turn) -> Section:
    """The member's section, if it is one that is assessed (and so reports cases)."""
    assert turn.member is not None
    section = turn.session.get(Section, turn.member.section_id) \
        if turn.member.section_id is not None else None
    if section is None or not section.assessed:
        raise Refused(NO_SECTION)
    return section


def _section(ctx: Context) -> Section:
    """As :func:`section_of` inside the dialog: closed, with the menu, when there is none
    (the member was moved to another section meanwhile)."""
    try:
        return section_of(ctx.turn)
    except Refused:
        ctx.close()
        ctx.turn.state.to_menu()
        ctx.turn.replies.clear()
        ctx.turn.say(NO_SECTION, main_menu_choices(ctx.turn))
        raise Closed from None


def _count(turn: Turn, section: Section, heading: int, year: int | None = None) -> int:
    assert section.id is not None
    return count_report_cases(session=turn.session, section_id=section.id,
                              roc_year=year or _year(turn), heading=heading)


def _own_case(ctx: Context, case_id: int | None) -> ReportCase:
    """A case of the member's section; Refused otherwise."""
    section = _section(ctx)
    case = get_report_case(session=ctx.turn.session, case_id=case_id) \
        if case_id is not None else None
    if case is None or case.section_id != section.id:
        logger.warning("refused report case %s to member %s", case_id,
                       ctx.turn.member.id if ctx.turn.member else None)
        raise Refused("這件案例不屬於您的課室，或已被刪除。")
    return case


# --- getters ---------------------------------------------------------------------------------


def _headings_view(ctx: Context) -> views.HeadingsView:
    section = _section(ctx)
    return views.HeadingsView(
        year=_year(ctx.turn), section=section.name,
        headings=tuple((h, heading_label(h), _count(ctx.turn, section, h), _unit(h))
                       for h in ORDER))


def _write_view(ctx: Context) -> views.WriteView:
    heading = _data(ctx).heading
    if heading not in ORDER:
        raise Refused(texts.UNKNOWN_BUTTON)
    assert heading is not None
    return views.WriteView(label=heading_label(heading),
                           number=_count(ctx.turn, _section(ctx), heading) + 1,
                           unit=_unit(heading), review=heading == REVIEW_HEADING,
                           text_max=TEXT_MAX)


def _figures_view(ctx: Context) -> views.FiguresView:
    case = _own_case(ctx, _data(ctx).case_id)
    return views.FiguresView(has_numbers=has_numbers(case.text),
                             just_written=_data(ctx).just_written)


def _done_view(ctx: Context) -> views.DoneView:
    case = _own_case(ctx, _data(ctx).case_id)
    count = _count(ctx.turn, _section(ctx), case.heading, case.roc_year)
    return views.DoneView(label=heading_label(case.heading), number=count, text=case.text,
                          figures=case.figures, review=case.heading == REVIEW_HEADING,
                          unit=_unit(case.heading), room=count < MAX_PER_HEADING,
                          limit=MAX_PER_HEADING)


def _list_view(ctx: Context) -> views.ListView:
    section = _section(ctx)
    cases = list_report_cases(session=ctx.turn.session, agency_id=section.agency_id,
                              roc_year=_year(ctx.turn), section_id=section.id)
    return views.ListView(section=section.name, year=_year(ctx.turn), cases=tuple(
        (heading_label(c.heading), n, c.text, c.figures, c.kept, c.id or 0)
        for n, c in enumerate(cases, start=1)))


# --- steps -----------------------------------------------------------------------------------


def _choose(ctx: Context, args: tuple[str, ...]) -> None:
    """A heading was chosen: ask for a case (refused when the section has enough)."""
    heading = int(args[0])
    section = _section(ctx)
    count = _count(ctx.turn, section, heading)
    if count >= MAX_PER_HEADING:
        unit, label = _unit(heading), heading_label(heading)
        what = "內容" if heading == REVIEW_HEADING else "案例"
        ctx.show("headings", prefix=f"{section.name}在「{label}」已有 {count} {unit}，每項以2、3"
                                    f"{unit}為限（績效總報告不得超過3頁）。如要改提供其他{what}，"
                                    f"請先在「{texts.CASE_LIST}」刪除一{unit}，或選擇其他項目。")
        return
    data = _data(ctx)
    data.heading, data.case_id, data.just_written = heading, None, False
    ctx.show("write")


def _again(ctx: Context, args: tuple[str, ...]) -> None:
    """再新增一件: another case under the heading of the one just recorded."""
    case = _own_case(ctx, _data(ctx).case_id)
    _choose(ctx, (str(case.heading),))


def _write(ctx: Context, text: str) -> None:
    """The case's text, typed after choosing its heading."""
    data = _data(ctx)
    heading = data.heading
    assert heading is not None
    cleaned = text.strip()
    if not cleaned or len(cleaned) > TEXT_MAX:
        problem = "請輸入內容。" if not cleaned else \
            f"內容有 {len(cleaned)} 字，請扼要寫在 {TEXT_MAX} 字以內。"
        raise Refused(f"{problem}（{heading_label(heading)}）")
    turn = ctx.turn
    assert turn.member is not None
    _section(ctx)
    # Two members of a section writing at once: the limit is checked again, under a lock.
    case = add_report_case(session=turn.session, member=turn.member, roc_year=_year(turn),
                           heading=heading, text=cleaned, now=turn.now)
    if case is None:
        _choose(ctx, (str(heading),))
        return
    data.case_id = case.id
    if heading == REVIEW_HEADING:
        ctx.show("done")
        return
    data.just_written = True
    ctx.show("figures")


def _figures(ctx: Context, text: str) -> None:
    """The numbers of the case just written."""
    case = _own_case(ctx, _data(ctx).case_id)
    if text.strip():
        if len(text.strip()) > TEXT_MAX:
            _data(ctx).just_written = False
            raise Refused(f"數據請寫在 {TEXT_MAX} 字以內。")
        set_figures(session=ctx.turn.session, case=case, figures=text)
    ctx.show("done")


def _skip_figures(ctx: Context, *_: object) -> None:
    _own_case(ctx, _data(ctx).case_id)
    ctx.show("done")


def _delete(ctx: Context, args: tuple[str, ...]) -> None:
    case = _own_case(ctx, int(args[0]))
    label, quoted = heading_label(case.heading), views.quote(case.text, 30)
    delete_report_case(session=ctx.turn.session, case=case)
    ctx.show("list", prefix=f"已刪除「{label}」：{quoted}")


def _to_headings(ctx: Context, *_: object) -> None:
    ctx.show("headings")


def _to_list(ctx: Context, *_: object) -> None:
    ctx.show("list")


def _to_menu(ctx: Context, *_: object) -> None:
    """選單 / 取消: what was recorded stays; the main menu."""
    ctx.close()
    ctx.turn.state.to_menu()
    from handlers.assessment import show_menu

    show_menu(ctx.turn)


# --- opening ---------------------------------------------------------------------------------


def start(turn: Turn, *, window: str = "headings", prefix: str | None = None) -> None:
    """年度案例 (or 本課室案例: ``window="list"``)."""
    section_of(turn)
    turn.state.to_menu()
    open_dialog(turn, DIALOG, CasesData(), window=window, prefix=prefix)


def show_list(turn: Turn) -> None:
    """本課室案例."""
    start(turn, window="list")


# --- the dialog ------------------------------------------------------------------------------


def _delete_items(view: views.ListView) -> list[tuple[str, str]]:
    """刪除 n for the first few cases of the list."""
    return [(f"刪除 {case[1]}", str(case[5])) for case in view.cases[:LIST_BUTTONS]]


_MENU = Button("menu", texts.MENU, _to_menu)
_HEADINGS = Button("heads", texts.CASE_HEADINGS, _to_headings)
_LIST = Button("list", texts.CASE_LIST, _to_list)
_LEAVE: dict[str, OnCommand] = {"cancel": _to_menu, "menu": _to_menu,
                                "cases": _to_headings, "caselist": _to_list}
_NO_FILE = "年度案例請以文字輸入。"

DIALOG = Dialog(
    "cases",
    data=CasesData,
    leave=LeavePrompt("要離開年度案例嗎？已記錄的案例都會保留。", "繼續填寫", "離開"),
    commands=_LEAVE,
    windows=(
        Window("headings", getter=_headings_view, render=views.headings, settled=True,
               widgets=(Select("pick", lambda v: [(label, str(h))
                                                  for h, label, _, _ in v.headings], _choose),
                        _LIST, _MENU)),
        Window("write", getter=_write_view, render=views.write, on_text=_write,
               no_file=_NO_FILE, widgets=(_HEADINGS, _MENU),
               commands={"skip": _to_headings, "back": _to_headings}),
        Window("figures", getter=_figures_view,
               render=lambda v: views.figures(v, texts.SKIP), on_text=_figures,
               no_file=_NO_FILE, widgets=(Button("skip", texts.SKIP, _skip_figures),),
               commands={"skip": _skip_figures, "next": _skip_figures,
                         "back": _to_headings}),
        Window("done", getter=_done_view, render=views.done, settled=True,
               widgets=(Button("more", lambda v: texts.CASE_ANOTHER.format(unit=v.unit),
                               _again, when=lambda v: v.room),
                        _HEADINGS, _LIST, _MENU)),
        Window("list", getter=_list_view, render=views.case_list, settled=True,
               widgets=(Select("del", _delete_items, _delete), _HEADINGS, _MENU)),
    ),
)
