"""評分表 in the chat: a section's 自行考核項目及評分表 for a quarter, as ODT and DOCX.

Staff get their own section's (the quarter being filled, or one they name); the secretariat
names the section (`評分表 工務課 115年第3季`). A section that has not started the quarter
gets its blank form. The files are drawn after the commit, from data read inside it.
"""

from __future__ import annotations

from handlers import texts
from handlers.assessment import desk_period, main_menu_choices, open_period
from handlers.flow import Refused
from handlers.messages import Document, Outgoing
from handlers.proposals import DOCX, ODT
from handlers.turn import Turn
from rubric import Period, to_halfwidth
from rubric.periods import parse_period
from storage.assessments import find_assessment
from storage.errors import NotFound
from storage.models import Agency, Section
from storage.org import get_section

USAGE = ("格式：評分表 [課室] [期別]，例如「評分表」（本課室本季）、「評分表 115年第3季」；"
         "秘書室可指定課室：「評分表 工務課 115年第4季」。")


def _parse(arg: str) -> tuple[str | None, Period | None]:
    """``工務課 115年第3季`` → the section's name and the quarter (either may be missing)."""
    name: list[str] = []
    period: Period | None = None
    for part in to_halfwidth(arg).split():
        try:
            period = parse_period(part)
        except ValueError:
            name.append(part)
    return (" ".join(name) or None), period


def send_form(turn: Turn, arg: str = "") -> None:
    """評分表 [課室] [期別]: the section's scoring form of the quarter, ODT and DOCX."""
    from reports.build import blank_section_form, build_section_form
    from reports.forms import form_docx, form_odt

    member = turn.member
    assert member is not None
    agency = turn.session.get(Agency, member.agency_id)
    assert agency is not None
    name, period = _parse(arg)
    own = turn.session.get(Section, member.section_id) if member.section_id else None
    if name is not None and (own is None or name != own.name):
        if not turn.is_secretariat:
            raise Refused(f"您只能下載本課室的評分表（{own.name if own else '尚無所屬課室'}）。\n"
                          f"{USAGE}")
        try:
            section = get_section(session=turn.session, agency=agency, name=name)
        except NotFound:
            raise Refused(f"找不到課室「{texts.quote(name)}」。{USAGE}") from None
    elif own is not None:
        section = own
    else:
        raise Refused(f"請指定課室。{USAGE}")
    if period is None:
        period = open_period(turn, section) if section.id == member.section_id \
            else desk_period(turn)
    assert section.id is not None
    assessment = find_assessment(session=turn.session, section_id=section.id,
                                 roc_year=period.roc_year, quarter=period.quarter)
    if assessment is not None:
        form = build_section_form(turn.session, assessment)
        said = f"{section.name} {period.label} 自行考核項目及評分表（ODT、DOCX）隨後傳送。"
    else:
        form = blank_section_form(agency, period.roc_year, quarter=period.quarter,
                                  section=section)
        said = (f"{section.name} {period.label} 尚未開始自評，傳送空白評分表"
                "（ODT、DOCX），可供列印或實地考核使用。")
    turn.state.to_menu()
    turn.say(said, main_menu_choices(turn))
    stem = f"{period.short_label}{section.name}{'空白' if form.blank else ''}評分表"

    def render() -> None:
        """The files, after the commit: drawing them holds no database lock."""
        turn.replies.append(Outgoing(f"{stem}（ODT）", document=Document(
            f"{stem}.odt", form_odt(form), ODT)))
        turn.replies.append(Outgoing(f"{stem}（DOCX）", document=Document(
            f"{stem}.docx", form_docx(form), DOCX)))

    turn.defer(render)
