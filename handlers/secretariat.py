"""The secretariat's desk: phone-courtesy tests, the quarterly and annual tables and the
annual report — in a private chat or the bound group, for secretariat roles. (審定 and 退回
are the ``verify`` dialog in ``handlers/dialogs``.)"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import date

from handlers import texts
from handlers.assessment import Refused, desk_period, main_menu_choices
from handlers.messages import Document, Outgoing
from handlers.tokens import Token, TokenError
from handlers.turn import Turn
from reports.build import build_annual_table, build_quarter_table
from reports.performance import (
    MAX_PAGES,
    RenderError,
    chinese_number,
    fit_to_pages,
    performance_docx,
    performance_odt,
    report_from_storage,
)
from rubric import (
    Period,
    Rubric,
    band_for_measure,
    latest_rubric_year,
    load_year,
    to_halfwidth,
)
from rubric.periods import TAIPEI, format_roc_date, parse_period
from storage.errors import NotFound
from storage.models import Agency
from storage.models import ReportCase as ReportCaseRow
from storage.org import get_section, list_sections
from storage.quarter_notes import MAX_FOLLOW_UP, get_follow_up, set_follow_up
from storage.report_cases import (
    REVIEW_HEADING,
    get_report_case,
    list_report_cases,
    set_kept,
    set_pinned,
)
from storage.verification import (
    record_phone_test,
)

logger = logging.getLogger(__name__)

_PHONE = re.compile(r"^(?:電話測試|/phonetest)\s+(\S+)\s+(\S+)\s+(\d{1,3})(?:\s+(.+))?$")
PHONE_TEST_MEASURE = "phone_courtesy_test"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def is_desk_command(name: str) -> bool:
    """Commands only the secretariat uses."""
    return name in ("verify", "phonetest", "table", "annual", "report", "followup")


def _agency(turn: Turn) -> Agency:
    assert turn.member is not None
    agency = turn.session.get(Agency, turn.member.agency_id)
    assert agency is not None
    return agency


def _require_desk(turn: Turn) -> None:
    if not turn.is_secretariat:
        logger.warning("refused a secretariat action from member %s (role %s)",
                       turn.member.id if turn.member else None,
                       turn.member.role if turn.member else None)
        raise Refused(texts.NOT_ALLOWED)


# --- phone tests and tables ------------------------------------------------------------------


def record_phone(turn: Turn, text: str) -> None:
    """電話測試 課室 受測者 分數 [備註]."""
    _require_desk(turn)
    match = _PHONE.match(to_halfwidth(text).strip())
    if match is None:
        raise Refused("格式：電話測試 課室 受測人員 分數 [備註]，例如：電話測試 規劃課 王小明 92")
    section_name, person, score_text, note = match.groups()
    score = int(score_text)
    if score > 100:
        raise Refused("電話禮貌測試分數為 0 到 100。")
    agency = _agency(turn)
    try:
        section = get_section(session=turn.session, agency=agency, name=section_name)
    except NotFound:
        raise Refused(f"找不到課室「{section_name}」。") from None
    assert turn.member is not None
    today = turn.now.astimezone(TAIPEI).date()
    record_phone_test(session=turn.session, section=section, tested_on=today,
                      person_tested=person, score=score, recorded_by=turn.member,
                      now=turn.now, tester=turn.member.name, note=note)
    question = _rubric_of(agency, today).question_measured_by(PHONE_TEST_MEASURE)
    hint = ""
    if question is not None:
        band = band_for_measure(question, score)
        hint = f"，對應「{question.name}」級距 {band.label}" if band else "，未達最低級距"
    turn.state.to_menu()
    turn.say(f"已登錄電話禮貌測試：{section.name} {person} {score} 分"
             f"（{format_roc_date(today)}，測試人員 {turn.member.name}）{hint}。",
             main_menu_choices(turn))


def _rubric_of(agency: Agency, today: date) -> Rubric:
    roc_year = Period.of(today).roc_year
    return load_year(agency.rubric_year or latest_rubric_year(roc_year))


def send_table(turn: Turn, arg: str) -> None:
    """總表 [115年第4季]: summary text, the chart, the ODS and XLSX files, and the 附錄1 of
    each plan adopted in the quarter (the table's 附件)."""
    _require_desk(turn)
    try:
        period = parse_period(arg) if arg.strip() else desk_period(turn)
    except ValueError:
        raise Refused("請用「總表 115年第4季」或「總表 115Q4」指定期別。") from None
    from handlers.proposals import _named, _rendered, _stem
    from reports.build import adopted_in
    from reports.charts import quarter_chart_png
    from reports.proposal_doc import build_proposal_document
    from reports.tables import quarter_ods, quarter_xlsx

    agency = _agency(turn)
    table = build_quarter_table(turn.session, agency, period)
    # The 附件: each adopted plan's 附錄1, its data read now, its files drawn after the commit.
    annexes = [(build_proposal_document(turn.session, p), _named(p), _stem(p))
               for p in adopted_in(turn.session, agency, period)]
    lines = [table.title, table.grade_scale, ""]
    for row in table.rows:
        if row.total is None:
            lines.append(f"{row.number}. {row.section}：{row.status}")
        else:
            mark = "" if row.verified else "（自評）"
            lines.append(f"{row.number}. {row.section}：{row.total} 分，{row.grade}{mark}")
    lines += ["", f"考核結果處理情形：{table.follow_up or '（尚未填寫，請輸入「處理情形 內容」）'}"]
    if table.attachments:
        lines.append(f"附件：{'、'.join(table.attachments)}（附錄1 隨後傳送）")
    turn.state.to_menu()
    turn.say("\n".join(lines), main_menu_choices(turn))
    name = f"{period.short_label}自行考核結果統計表"

    def render() -> None:
        """The chart and the files from the table's plain data, after the commit: drawing
        takes a while and must hold no database lock."""
        turn.replies.append(Outgoing(f"{period.label}各課室總分圖", picture=Document(
            f"{name}.png", quarter_chart_png(table), "image/png")))
        turn.replies.append(Outgoing(f"{name}（ODS）", document=Document(
            f"{name}.ods", quarter_ods(table), ODS)))
        turn.replies.append(Outgoing(f"{name}（XLSX）", document=Document(
            f"{name}.xlsx", quarter_xlsx(table), XLSX)))
        for document, named, stem in annexes:
            turn.replies.extend(_rendered(document, f"附件 {named}", stem))

    turn.defer(render)


FOLLOW_UP_USAGE = ("格式：處理情形 [115年第4季] 內容，例如：處理情形 115年第4季 "
                   "考核結果已函送各課室提報改進情形，並登載於本局網頁。（省略期別即為目前期別）")


def set_follow_up_note(turn: Turn, arg: str) -> None:
    """處理情形 [115年第4季] 文字: the quarter's 考核結果處理情形, printed on its table."""
    _require_desk(turn)
    head, _, rest = arg.strip().partition(" ")
    try:
        period, text = parse_period(head), rest.strip()
    except ValueError:
        period, text = desk_period(turn), arg.strip()
    agency = _agency(turn)
    assert agency.id is not None and turn.member is not None
    turn.state.to_menu()
    if not text:
        current = get_follow_up(session=turn.session, agency_id=agency.id,
                                roc_year=period.roc_year, quarter=period.quarter)
        shown = f"目前內容：{current}" if current else "目前尚未填寫。"
        turn.say(f"{period.label}考核結果處理情形　{shown}\n{FOLLOW_UP_USAGE}",
                 main_menu_choices(turn))
        return
    if len(text) > MAX_FOLLOW_UP:
        raise Refused(f"處理情形請寫在 {MAX_FOLLOW_UP} 字以內（目前 {len(text)} 字）。")
    set_follow_up(session=turn.session, agency_id=agency.id, roc_year=period.roc_year,
                  quarter=period.quarter, text=text, member=turn.member, now=turn.now)
    turn.say(f"已記錄{period.label}考核結果處理情形：{text}\n總表會印出這段文字。",
             main_menu_choices(turn))


def send_annual(turn: Turn, arg: str) -> None:
    """年度 [115]: Q1–Q4 aggregated, ranking, commendations, trend chart, files."""
    _require_desk(turn)
    cleaned = to_halfwidth(arg).strip().removesuffix("年").removesuffix("年度")
    roc_year = int(cleaned) if cleaned.isdigit() else desk_period(turn).roc_year
    from reports.charts import annual_trend_png
    from reports.tables import _plain_number, annual_ods, annual_xlsx

    table = build_annual_table(turn.session, _agency(turn), roc_year)
    lines = [table.title, table.rules, ""]
    for row in table.rows:
        shown = "—" if row.aggregate is None else f"{_plain_number(row.aggregate)}"
        quarters = "／".join("—" if t is None else f"{t}{'' if done else '（自評）'}"
                            for t, done in zip(row.quarter_totals, row.verified, strict=True))
        note = f"　{row.standing}" if row.standing else ""
        lines.append(f"{row.rank or '—'}. {row.section}：{shown}（{quarters}）"
                     f"{row.grade or ''}{note}")
    lines += ["", "【嘉獎乙次】", f"成績最優課室：{'、'.join(table.best_sections) or '—'}"]
    phone = "、".join(f"{p}（{s}，全年 {n} 次平均 {average:g} 分）"
                     for p, s, average, n in table.best_phone)
    lines.append(f"電話禮貌最佳人員：{phone or '—'}")
    adopted = "、".join(f"{t}（{p}，{s}）" for t, p, s in table.adopted_proposals)
    lines.append(f"創新方案被採用實施者：{adopted or '—'}")
    turn.state.to_menu()
    turn.say("\n".join(lines), main_menu_choices(turn))
    name = f"{roc_year}年度自行考核成績彙總表"

    def render() -> None:
        """The trend chart and the files, after the commit (see ``send_table``)."""
        turn.replies.append(Outgoing(f"{roc_year}年度各季趨勢圖", picture=Document(
            f"{roc_year}年度趨勢圖.png", annual_trend_png(table), "image/png")))
        turn.replies.append(Outgoing(f"{name}（ODS）", document=Document(
            f"{name}.ods", annual_ods(table), ODS)))
        turn.replies.append(Outgoing(f"{name}（XLSX）", document=Document(
            f"{name}.xlsx", annual_xlsx(table), XLSX)))

    turn.defer(render)



# --- the annual performance report -----------------------------------------------------------

REPORT_VERBS = ("rk", "rt", "rr")
ODT = "application/vnd.oasis.opendocument.text"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
REPORT_BUTTONS = 6


def _report_year(turn: Turn, arg: str) -> int:
    cleaned = to_halfwidth(arg).strip().removesuffix("年度").removesuffix("年").strip()
    if not cleaned:
        return Period.of(turn.now).roc_year
    if not cleaned.isdigit() or not 1 <= int(cleaned) <= 999:
        raise Refused(f"請用「{texts.REPORT} 115」指定年度。")
    return int(cleaned)


def _case_numbers(turn: Turn, roc_year: int) -> dict[int, int]:
    """Each case's number among its section's cases under its heading (1, 2, 3 …)."""
    agency = _agency(turn)
    assert agency.id is not None
    counts: dict[tuple[int | None, int], int] = {}
    numbers: dict[int, int] = {}
    for row in sorted(list_report_cases(session=turn.session, agency_id=agency.id,
                                        roc_year=roc_year), key=lambda r: r.id or 0):
        key = (row.section_id, row.heading)
        counts[key] = counts.get(key, 0) + 1
        numbers[row.id or 0] = counts[key]
    return numbers


def _case_label(case: ReportCaseRow, sections: Mapping[int | None, str],
                numbers: Mapping[int, int], length: int = 8) -> str:
    """``規劃課一之2「線上預審…」`` for buttons: section, heading, number, first words — two
    cases never share a label."""
    text = " ".join(case.text.split())
    text = text if len(text) <= length else f"{text[:length]}…"
    heading = "檢討" if case.heading == 0 else chinese_number(case.heading)
    number = numbers.get(case.id or 0)
    return f"{sections.get(case.section_id, '')}{heading}" \
           f"{f'之{number}' if number else ''}「{text}」"


def send_report(turn: Turn, arg: str) -> None:
    """年度報告 [115]: the draft 績效總報告 from the database and the kept cases, within 3 pages."""
    _require_desk(turn)
    _build_report(turn, _report_year(turn, arg))


def _build_report(turn: Turn, roc_year: int) -> None:
    stored = report_from_storage(turn.session, _agency(turn), roc_year)
    report, sections = stored.report, stored.sections
    case_rows, cases = list(stored.case_rows), list(stored.cases)
    lines = [report.title, f"資料截止時間：{report.cutoff}",
             f"列入個案事例 {len(case_rows)} 件、檢討 {stored.review_count} 點"
             f"（秘書室設為不列入 {len(stored.left_out)} 則）。"]
    turn.state.to_menu()
    left_out = list(stored.left_out)
    numbers = _case_numbers(turn, roc_year)

    def render() -> None:
        """Fit to three pages and write the files: LibreOffice takes seconds, so this runs
        after the commit, holding no database lock."""
        notes = list(lines)
        dropped: list[ReportCaseRow] = []
        try:
            fitted, messages = fit_to_pages(report, MAX_PAGES)
        except RenderError as exc:
            logger.warning("the report's pages could not be counted: %s", exc)
            fitted = report
            notes.append(f"無法執行 PDF 頁數檢查（LibreOffice：{exc}），以下為未經刪減的草稿，"
                         f"請自行確認不超過{MAX_PAGES}頁。")
        else:
            if not messages:
                notes.append(f"已確認不超過{MAX_PAGES}頁（DOCX、ODT）。")
            else:
                present = {id(case) for case in fitted.cases}
                dropped = [row for row, case in zip(case_rows, cases, strict=True)
                           if id(case) not in present]
                notes += [f"超過{MAX_PAGES}頁，已刪減：", *(f"・{m}" for m in messages)]
                if dropped:
                    notes.append("如要保留被刪減的案例，請按「保留」並選擇改為刪除哪一件，"
                                 f"再按「{texts.REPORT_REBUILD}」。")
        choices = [turn.choice(f"保留 {_case_label(row, sections, numbers)}", "rk", row.id,
                               roc_year) for row in dropped[:REPORT_BUTTONS]]
        choices += [turn.choice(f"恢復 {_case_label(row, sections, numbers)}", "rt", row.id,
                                roc_year) for row in left_out[:REPORT_BUTTONS]]
        choices += [turn.choice(texts.REPORT_REBUILD, "rr", roc_year),
                    turn.menu_choice(texts.MENU, "menu")]
        turn.say("\n".join(notes), choices)
        name = f"{roc_year}年度提升服務品質績效總報告"
        turn.replies.append(Outgoing(f"{name}（ODT）", document=Document(
            f"{name}.odt", performance_odt(fitted), ODT)))
        turn.replies.append(Outgoing(f"{name}（DOCX）", document=Document(
            f"{name}.docx", performance_docx(fitted), DOCX)))

    turn.defer(render)


def _report_case(turn: Turn, token: Token) -> tuple[ReportCaseRow, int]:
    case = get_report_case(session=turn.session, case_id=token.int_arg(0))
    roc_year = token.int_arg(1)
    if case is None or case.agency_id != _agency(turn).id or case.roc_year != roc_year:
        raise Refused("找不到這件案例（可能已被課室刪除）。")
    return case, roc_year


def handle_report_action(turn: Turn, token: Token) -> None:
    """保留 (a dropped case instead of another), 改刪 / 恢復 (toggle kept), 再產生報告."""
    _require_desk(turn)
    try:
        if token.verb == "rr":
            _build_report(turn, token.int_arg(0))
            return
        case, roc_year = _report_case(turn, token)
    except TokenError:
        raise Refused(texts.UNKNOWN_BUTTON) from None
    agency = _agency(turn)
    assert agency.id is not None
    sections = {s.id: s.name for s in list_sections(session=turn.session, agency=agency)}
    numbers = _case_numbers(turn, roc_year)
    turn.state.to_menu()
    rebuild = turn.choice(texts.REPORT_REBUILD, "rr", roc_year)
    if token.verb == "rk":
        # 保留: the secretariat wants this one in; rebuilding must not cut it again.
        set_pinned(session=turn.session, case=case, pinned=True)
        others = [row for row in list_report_cases(session=turn.session, agency_id=agency.id,
                                                   roc_year=roc_year, kept=True)
                  if row.id != case.id and row.heading != REVIEW_HEADING]
        # The same heading first: that is where the room is made.
        others.sort(key=lambda row: (row.heading != case.heading, row.heading, row.id or 0))
        label = _case_label(case, sections, numbers, 20)
        turn.say(f"要保留 {label}，請選擇改為不列入報告的案例：",
                 [*(turn.choice(f"改刪 {_case_label(row, sections, numbers)}", "rt", row.id,
                                roc_year) for row in others[:REPORT_BUTTONS * 2 - 1]), rebuild])
        return
    set_kept(session=turn.session, case=case, kept=not case.kept)
    if not case.kept:
        set_pinned(session=turn.session, case=case, pinned=False)
    done = "恢復列入報告" if case.kept else "設為不列入報告"
    turn.say(f"已將 {_case_label(case, sections, numbers, 20)} {done}。按「{texts.REPORT_REBUILD}」"
             "重新產生報告。",
             [turn.choice(("改回不列入 " if case.kept else "恢復 ")
                          + _case_label(case, sections, numbers), "rt", case.id, roc_year),
              rebuild, turn.menu_choice(texts.MENU, "menu")])
