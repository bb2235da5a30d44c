"""The ``sqbot`` command: set up the database, load rubrics, invite people, run the bot."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from sqlmodel import select

from bot.app import NotMigrated, build_dispatcher, open_database
from bot.console import ConsoleChat
from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, load_settings
from rubric import RubricError, RubricFileError, load_rubric, load_year, to_halfwidth
from rubric.loader import available_years
from rubric.model import Rubric
from storage.errors import NotFound, StorageError
from storage.invitations import create_invitation, format_code
from storage.migrate import current_revision, head_revision
from storage.models import ChatIdentity, Role
from storage.org import (
    add_section,
    bind_identity,
    create_agency,
    ensure_demo_agency,
    find_member,
    get_agency,
    get_section,
    list_agencies,
    list_sections,
    member_for_identity,
)
from storage.outbox import release_held

app = typer.Typer(help="服務品質小幫手 sqbot：服務品質自行考核的 LINE／Telegram 助理。",
                  no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="資料庫：升級結構、查看版本、備份與還原。", no_args_is_help=True)
rubric_app = typer.Typer(help="評分表：檢查與顯示各年度的自行考核項目及評分表。",
                         no_args_is_help=True)
invite_app = typer.Typer(help="邀請碼：讓同仁或秘書室群組綁定帳號。", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(rubric_app, name="rubric")
app.add_typer(invite_app, name="invite")
report_app = typer.Typer(help="報表：季統計表、年度彙總表、各課室評分表（ODF 與 Office 格式）。",
                         no_args_is_help=True)
app.add_typer(report_app, name="report")
schedule_app = typer.Typer(help="提醒排程：查看一年的自評開始、截止提醒與年度報告倒數。",
                           no_args_is_help=True)
app.add_typer(schedule_app, name="schedule")
member_app = typer.Typer(help="同仁：依個資保護要求刪除同仁的聊天帳號與個人資料。",
                         no_args_is_help=True)
app.add_typer(member_app, name="member")

ROLE_WORDS: dict[str, Role] = {
    "staff": Role.STAFF, "承辦人": Role.STAFF, "同仁": Role.STAFF,
    "section_head": Role.SECTION_HEAD, "head": Role.SECTION_HEAD, "課室主管": Role.SECTION_HEAD,
    "主管": Role.SECTION_HEAD,
    "secretariat": Role.SECRETARIAT, "秘書室": Role.SECRETARIAT,
    "admin": Role.ADMIN, "管理者": Role.ADMIN,
}
ROLE_LABELS = {Role.STAFF: "承辦人", Role.SECTION_HEAD: "課室主管", Role.SECRETARIAT: "秘書室",
               Role.ADMIN: "管理者"}


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _settings() -> Settings:
    try:
        settings = load_settings()
    except SettingsError as exc:
        _fail(str(exc), 2)
    configure_logging(settings.log_level, settings.secret_values())
    return settings


def _now() -> datetime:
    return datetime.now(UTC)


@app.command()
def init(
    demo: Annotated[
        bool, typer.Option("--demo", help="建立示範機關：經濟部水利署第十河川局與其課室")
    ] = False,
    agency: Annotated[str | None, typer.Option(help="建立此名稱的機關")] = None,
    section: Annotated[list[str] | None, typer.Option(help="該機關的課室（可重複）")] = None,
) -> None:
    """升級資料庫到最新結構，並（選擇性）建立機關與課室。"""
    settings = _settings()
    try:
        database = open_database(settings, migrate=True)
    except StorageError as exc:
        _fail(f"無法初始化資料庫（DATABASE_URL）：{exc}")
    with database.transaction() as session:
        created: list[str] = []
        if demo:
            created.append(ensure_demo_agency(session=session).name)
        if agency:
            try:
                existing = get_agency(session=session, name=agency)
            except NotFound:
                existing = create_agency(session=session, name=agency)
            known = {s.name for s in list_sections(session=session, agency=existing)}
            for name in section or []:
                if name not in known:
                    add_section(session=session, agency=existing, name=name)
            created.append(existing.name)
        summary = [
            f"{a.name}：{len(list_sections(session=session, agency=a))} 個課室"
            for a in list_agencies(session=session)
        ]
    typer.echo(f"資料庫已就緒（{_safe_url(settings)}，版本 {head_revision()}）。")
    for line in summary:
        typer.echo(f"  {line}")
    if not summary:
        typer.echo("  尚無機關：執行 `sqbot init --demo` 建立示範機關，或以 --agency 建立。")


def _safe_url(settings: Settings) -> str:
    from storage.db import normalize_url

    return normalize_url(settings.database_url).render_as_string(hide_password=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """將資料庫結構升級到此版本程式所需（可重複執行）。"""
    settings = _settings()
    try:
        database = open_database(settings, migrate=True)
    except StorageError as exc:
        _fail(f"升級失敗（DATABASE_URL）：{exc}")
    typer.echo(f"資料庫已升級到版本 {current_revision(database.engine)}（{_safe_url(settings)}）。")


@db_app.command("current")
def db_current() -> None:
    """顯示資料庫目前的結構版本與程式需要的版本。"""
    settings = _settings()
    from storage.db import Database

    database = Database.from_url(settings.database_url)
    current, head = current_revision(database.engine), head_revision()
    typer.echo(f"資料庫版本：{current or '（空的）'}；程式需要：{head}")
    if current != head:
        raise typer.Exit(1)



@db_app.command("backup")
def db_backup(
    path: Annotated[Path, typer.Argument(help="備份檔路徑，例如 sqbot-115-12-01.jsonl.gz")],
) -> None:
    """把整個資料庫備份成一個可攜的檔案（gzip 壓縮的 JSON lines，兩種資料庫皆可還原）。"""
    from storage.backup import BackupError, backup_database
    from storage.db import Database

    settings = _settings()
    try:
        database = Database.from_url(settings.database_url)
        summary = backup_database(engine=database.engine, path=path, now=_now())
    except BackupError as exc:
        _fail(f"備份失敗：{exc}")
    except StorageError as exc:
        _fail(f"無法開啟資料庫（DATABASE_URL）：{exc}")
    typer.echo(f"已備份 {summary.total:,} 筆資料（{len(summary.rows)} 個資料表，"
               f"結構版本 {summary.revision}）到 {path}。")
    typer.echo("證據檔案存放在 DATA_DIR/evidence，請一併備份該資料夾。")


@db_app.command("restore")
def db_restore(
    path: Annotated[Path, typer.Argument(help="sqbot db backup 產生的備份檔")],
    yes: Annotated[bool, typer.Option("--yes", help="不再確認，直接還原")] = False,
) -> None:
    """把備份檔還原到一個空的、已升級到同一結構版本的資料庫（DATABASE_URL）。"""
    from storage.backup import BackupError, read_header, restore_database
    from storage.db import Database

    settings = _settings()
    try:
        header = read_header(path)
    except BackupError as exc:
        _fail(f"無法還原：{exc}")
    if not yes and not typer.confirm(
            f"確定要把 {path}（結構版本 {header.get('revision')}，{header.get('created_at')}）"
            f"還原到 {_safe_url(settings)} 嗎？"):
        _fail("已取消，未做任何變更。")
    try:
        database = Database.from_url(settings.database_url)
        summary = restore_database(engine=database.engine, path=path)
    except BackupError as exc:
        _fail(f"無法還原：{exc}")
    except StorageError as exc:
        _fail(f"無法開啟資料庫（DATABASE_URL）：{exc}")
    typer.echo(f"已還原 {summary.total:,} 筆資料（結構版本 {summary.revision}）到 "
               f"{_safe_url(settings)}。")


@rubric_app.command("check")
def rubric_check(path: Annotated[Path, typer.Argument(help="評分表 YAML 檔")]) -> None:
    """檢查一個評分表檔案是否符合規則（配分加總、級距不重疊不留空）。"""
    try:
        rubric = load_rubric(path)
    except RubricFileError as exc:
        _fail(f"評分表有誤：{exc.for_operator()}")
    typer.echo(f"{path}：{rubric.year} 年度評分表正確，{len(rubric.facets)} 個構面、"
               f"{len(rubric.items)} 個評核項目、{len(rubric.questions)} 題，"
               f"滿分 {rubric.total} 分。")


@rubric_app.command("show")
def rubric_show(
    year: Annotated[int | None, typer.Option(help="民國年度，例如 115；預設為最新一份")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 輸出")] = False,
) -> None:
    """顯示一個年度的自行考核項目及評分表：構面說明、評核項目與指標、各級距的全部評分參考
    標準、評分注意事項。沒有該年度的評分表時，沿用最近一份較早年度的（與報表相同）。"""
    from rubric.loader import latest_rubric_year

    try:
        form_year = available_years()[-1] if year is None else latest_rubric_year(year)
        rubric = load_year(form_year)
    except RubricFileError as exc:
        _fail(f"找不到評分表：{exc.for_operator()}")
    except RubricError as exc:
        _fail(f"找不到評分表：{exc}")
    source = f"rubric/data/{form_year}.yaml"
    note = (f"{year}年度沒有專屬的評分表，沿用{form_year}年度的（{source}）。"
            if year is not None and year != form_year else f"評分表檔案：{source}")
    if as_json:
        typer.echo(json.dumps({**rubric_as_json(rubric), "for_year": year or form_year,
                               "source": source}, ensure_ascii=False, indent=2))
        return
    typer.echo(note)
    typer.echo(render_rubric(rubric))


def _question_json(rubric: Rubric, q: Any) -> dict[str, Any]:
    return {
        "code": q.code, "name": q.name, "max": q.max,
        "path": rubric.placement(q.code).breadcrumb,
        **({"guidance": q.guidance} if q.guidance else {}),
        "bands": [{"min": b.min, "max": b.max, "label": b.label, "criteria": b.criteria,
                   "criteria_lines": b.criteria.splitlines(),
                   **({"measure_min": b.measure_min} if b.measure_min is not None else {})}
                  for b in q.bands],
        "criteria": list(q.criteria),
        **({"measure": q.measure.model_dump()} if q.measure else {}),
    }


def rubric_as_json(rubric: Rubric) -> dict[str, Any]:
    """The whole rubric as JSON: facets with their descriptions, items with their notes,
    評核指標 and 次評核指標, and every question with all its bands' criteria."""
    def indicator_json(indicator: Any) -> dict[str, Any]:
        found: dict[str, Any] = {"name": indicator.name, "max": indicator.max}
        if indicator.sub_indicators:
            found["sub_indicators"] = [
                {"name": sub.name, "max": sub.max,
                 "questions": [_question_json(rubric, q) for q in sub.questions]}
                for sub in indicator.sub_indicators]
        if indicator.questions:
            found["questions"] = [_question_json(rubric, q) for q in indicator.questions]
        return found

    return {
        "year": rubric.year,
        "title": rubric.title,
        "total": rubric.total,
        "grades": [{"grade": g.grade, "min": g.min} for g in rubric.grades],
        "facets": [{"code": f.code, "name": f.name, "max": f.max, "description": f.description,
                    "items": [i.code for i in f.items]} for f in rubric.facets],
        "items": [
            {
                "code": item.code,
                "name": item.name,
                "max": item.max,
                "notes": list(item.notes),
                "indicators": [indicator_json(i) for i in item.indicators],
                "questions": [_question_json(rubric, q) for q in item.all_questions()],
            }
            for item in rubric.items
        ],
    }


def render_rubric(rubric: Rubric) -> str:
    """The whole rubric as readable text for the terminal: nothing of the form left out."""
    lines = [f"{rubric.title}（滿分 {rubric.total} 分）",
             "等第：" + "；".join(f"{g.grade} ≥ {g.min}" for g in rubric.grades), ""]

    def question(q: Any, indent: str) -> None:
        lines.append(f"{indent}{q.code} {q.name}（{q.max}分）")
        if q.guidance:
            lines.append(f"{indent}    {q.guidance}")
        for band in q.bands:
            first, *rest = band.criteria.splitlines()
            lines.append(f"{indent}    {band.label}：{first}")
            pad = " " * (len(band.label) + 1)
            lines.extend(f"{indent}    {pad}{line}" for line in rest)
        for number, criterion in enumerate(q.criteria, start=1):
            lines.append(f"{indent}    {number}. {criterion}")

    for facet in rubric.facets:
        lines.append(f"【{facet.name}構面（{facet.max}分）】")
        if facet.description:
            lines.append(f"  {facet.description}")
        for item in facet.items:
            lines.append(f"  {item.code}. {item.name}（{item.max}分）")
            for note in item.notes:
                lines.append(f"    ※ {note}")
            for indicator in item.indicators:
                lines.append(f"    評核指標：{indicator.name}（{indicator.max}分）")
                for sub in indicator.sub_indicators or ():
                    lines.append(f"      次評核指標：{sub.name}（{sub.max}分）")
                    for q in sub.questions:
                        question(q, "        ")
                for q in indicator.questions or ():
                    question(q, "      ")
        lines.append("")
    return "\n".join(lines).rstrip()


@invite_app.command("create")
def invite_create(
    role: Annotated[str, typer.Option(
        help="staff／section_head／secretariat／admin（或 承辦人／課室主管／秘書室／管理者）")],
    section: Annotated[str | None, typer.Option(help="課室名稱，例如 規劃課")] = None,
    name: Annotated[str | None, typer.Option(help="受邀者姓名（省略則用聊天帳號名稱）")] = None,
    member: Annotated[
        str | None, typer.Option(help="已綁定的同仁姓名：為他綁定另一個聊天平台")
    ] = None,
    agency: Annotated[str | None, typer.Option(help="機關名稱（只有一個機關時可省略）")] = None,
    days: Annotated[int, typer.Option(min=1, max=90, help="有效天數")] = 14,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 輸出")] = False,
) -> None:
    """建立一次性邀請碼。"""
    chosen = ROLE_WORDS.get(role.strip().lower()) or ROLE_WORDS.get(role.strip())
    if chosen is None:
        _fail(f"不認得的角色 {role!r}：可用 staff、section_head、secretariat、admin"
              "（承辦人、課室主管、秘書室、管理者）。")
    if chosen in (Role.STAFF, Role.SECTION_HEAD) and not section and not member:
        _fail("承辦人與課室主管的邀請碼需要 --section（課室名稱）。")
    settings = _settings()
    try:
        database = open_database(settings)
    except (NotMigrated, StorageError) as exc:
        _fail(str(exc))
    now = _now()
    try:
        with database.transaction() as session:
            the_agency = _pick_agency(session, agency or settings.agency)
            the_section = get_section(session=session, agency=the_agency, name=section) \
                if section else None
            existing = find_member(session=session, agency=the_agency, name=member) \
                if member else None
            invitation = create_invitation(
                session=session, agency=the_agency, role=chosen, now=now,
                section=the_section, member_name=name, member=existing,
                valid_for=timedelta(days=days),
            )
            result = {
                "code": format_code(invitation.code),
                "agency": the_agency.name,
                "section": the_section.name if the_section else None,
                "role": chosen.value,
                "name": name or (existing.name if existing else None),
                "expires_at": invitation.expires_at.isoformat(),
            }
    except NotFound as exc:
        _fail(_not_found_message(exc))
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    from rubric.periods import TAIPEI, format_roc_date

    expires = invitation.expires_at.astimezone(TAIPEI)
    where = f"{result['section']}" if result["section"] else result["agency"]
    typer.echo(f"邀請碼：{result['code']}（{where}・{ROLE_LABELS[chosen]}，"
               f"{format_roc_date(expires.date())} {expires:%H:%M} 前有效，限用一次）")


def _pick_agency(session: Any, name: str | None) -> Any:
    from storage.org import the_only_agency

    if name:
        return get_agency(session=session, name=name)
    return the_only_agency(session=session)


def _not_found_message(exc: NotFound) -> str:
    if exc.kind == "single agency":
        return "資料庫中沒有機關或有多個機關：請用 --agency 指定，或先執行 `sqbot init --demo`。"
    labels = {"agency": "機關", "section": "課室", "member": "同仁"}
    return f"找不到{labels.get(exc.kind, exc.kind)}「{exc.key}」。"


@app.command()
def chat(
    as_member: Annotated[
        str | None, typer.Option("--as", help="以這位同仁的身分聊天（姓名）")
    ] = None,
    identity: Annotated[str | None, typer.Option(
        help="以這個 console 帳號聊天（未綁定時需輸入邀請碼）")] = None,
    agency: Annotated[str | None, typer.Option(help="機關名稱（只有一個機關時可省略）")] = None,
    group: Annotated[str | None, typer.Option(
        help="在這個 console 群組中說話（秘書室群組的模擬；以 /bind 邀請碼 綁定）")] = None,
    save_files: Annotated[Path | None, typer.Option(
        help="把小幫手傳來的檔案與圖片存到這個資料夾")] = None,
) -> None:
    """在終端機中與小幫手對話（與 LINE、Telegram 相同的流程與資料庫）。"""
    if (as_member is None) == (identity is None):
        _fail("請擇一指定 --as 姓名 或 --identity 帳號，例如：sqbot chat --as 王小明")
    settings = _settings()
    try:
        database = open_database(settings)
    except (NotMigrated, StorageError) as exc:
        _fail(str(exc))
    user_id = identity or ""
    if as_member is not None:
        try:
            with database.transaction() as session:
                the_agency = _pick_agency(session, agency or settings.agency)
                member = find_member(session=session, agency=the_agency, name=as_member)
                assert member.id is not None
                user_id = f"member-{member.id}"
                if member_for_identity(session=session, channel="console",
                                       platform_user_id=user_id) is None:
                    bind_identity(session=session, member=member, channel="console",
                                  platform_user_id=user_id)
                    if member.role in (Role.SECRETARIAT, Role.ADMIN):
                        # The secretariat has a chat now, as when a code is redeemed: the
                        # notices held until then (a submission, a proposal) come to it.
                        session.flush()
                        release_held(session=session, agency_id=member.agency_id,
                                     now=datetime.now(UTC))
        except NotFound as exc:
            _fail(_not_found_message(exc))
    console = ConsoleChat(build_dispatcher(settings, database), database, user_id,
                          group=group, save_files=save_files)
    interactive = sys.stdin.isatty()
    if interactive:
        typer.echo("服務品質小幫手（終端機）。輸入「填寫自評」開始、「說明」查看指令；"
                   "#數字 選擇選項，/file 路徑 傳送檔案，/quit 離開。")
    while True:
        try:
            line = input("> ") if interactive else sys.stdin.readline()
        except (EOFError, KeyboardInterrupt):
            break
        if not interactive and line == "":
            break
        if line.strip() in ("/quit", "/exit"):
            break
        if not interactive:
            typer.echo(f"> {line.rstrip()}")
        typer.echo(console.send(line))
        typer.echo("")


@schedule_app.command("show")
def schedule_show(
    year: Annotated[int | None, typer.Option(help="民國年度，例如 115；預設為今年")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 輸出")] = False,
    fmt: Annotated[str, typer.Option("--format", help="text、json 或 ics（行事曆檔）")] = "text",
    out: Annotated[Path | None, typer.Option(help="ics 寫入的檔案；預設印在螢幕上")] = None,
) -> None:
    """列出一年的每一則提醒：日期、時間、對象與內容，供秘書室事先確認；--format ics
    產生可匯入行事曆的檔案（每則提醒一個事件，Asia/Taipei）。"""
    from bot.app import schedule_config
    from handlers.reminders import describe
    from rubric.calendar import WorkCalendar, plan_year
    from rubric.periods import TAIPEI, format_roc_date, to_roc_year

    settings = _settings()
    config = schedule_config(settings)
    calendar = WorkCalendar.for_config(config)
    roc_year = year if year is not None else to_roc_year(_now().astimezone(TAIPEI).year)
    if roc_year < 1:
        _fail("年度需為民國年，例如 115。")
    fmt = "json" if as_json else fmt.lower()
    if fmt not in ("text", "json", "ics"):
        _fail(f"--format 只能是 text、json 或 ics（收到「{fmt}」）。")
    plan = plan_year(roc_year, config, calendar)
    if fmt == "ics":
        from reports.calendar_ics import plan_calendar

        database = _open_or_fail(settings)
        try:
            with database.transaction() as session:
                name = _pick_agency(session, settings.agency).name
        except NotFound as exc:
            _fail(_not_found_message(exc))
        content = plan_calendar([(r, *describe(r)) for r in plan], roc_year=roc_year,
                                agency=name, stamp=_now())
        if out is None:
            sys.stdout.buffer.write(content)
            sys.stdout.flush()
        else:
            _write_report(content, out)
        return
    rows = []
    for reminder in plan:
        label, audience, text = describe(reminder)
        moved = ""
        if reminder.moved_from is not None:
            why = calendar.closed_because(reminder.moved_from) or "非上班日"
            moved = f"（原訂{format_roc_date(reminder.moved_from)}，{why}）"
        rows.append({"date": reminder.day.isoformat(), "roc_date": format_roc_date(reminder.day),
                     "time": reminder.fire_time.strftime("%H:%M"), "kind": label,
                     "audience": audience, "text": text, "moved": moved})
    if fmt == "json":
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{roc_year}年度提醒排程（{settings.timezone}）")
    for row in rows:
        typer.echo(f"{row['roc_date']} {row['time']}　{row['kind']}{row['moved']}")
        typer.echo(f"　對象：{row['audience']}")
        typer.echo(f"　內容：{row['text']}")


QUARTER_FORMATS = ("ods", "xlsx", "csv", "json", "png")
FORM_FORMATS = ("odt", "docx")


def _write_report(content: bytes | str, out: Path) -> None:
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    except OSError as exc:
        _fail(f"無法寫入 {out}：{exc.strerror}")
    typer.echo(f"已產生 {out}（{len(data):,} 位元組）")


def _table_bytes(kind: str, table: Any, fmt: str) -> bytes | str:
    from reports import charts, tables

    if fmt == "json":
        return json.dumps(getattr(tables, f"{kind}_json")(table), ensure_ascii=False, indent=2)
    if fmt == "png":
        return charts.quarter_chart_png(table) if kind == "quarter" \
            else charts.annual_trend_png(table)
    content = getattr(tables, f"{kind}_{fmt}")(table)
    if fmt == "csv":  # with a byte-order mark, or Excel reads the Chinese as Big5
        return str(content).encode("utf-8-sig")
    return content  # type: ignore[no-any-return]


@report_app.command("quarterly")
def report_quarterly(
    year: Annotated[int, typer.Option(help="民國年度，例如 115")],
    quarter: Annotated[int, typer.Option(min=1, max=4, help="季別 1-4")],
    fmt: Annotated[str, typer.Option("--format", help="ods／xlsx／csv／json／png")] = "ods",
    out: Annotated[Path | None, typer.Option(help="輸出檔案路徑")] = None,
    agency: Annotated[str | None, typer.Option(help="機關名稱（只有一個機關時可省略）")] = None,
    follow_up: Annotated[str | None, typer.Option(
        "--follow-up", help="記錄本季的考核結果處理情形（取代原內容），並印在表上")] = None,
) -> None:
    """季自行考核結果統計表（審定分數優先，未審定者標示自評）。"""
    from reports.build import build_quarter_table
    from rubric import Period
    from storage.quarter_notes import MAX_FOLLOW_UP, set_follow_up

    if fmt not in QUARTER_FORMATS:
        _fail(f"不支援的格式 {fmt!r}：可用 {'、'.join(QUARTER_FORMATS)}")
    note = None if follow_up is None else " ".join(follow_up.split())
    if note is not None and not 0 < len(note) <= MAX_FOLLOW_UP:
        _fail(f"--follow-up 需為 1 到 {MAX_FOLLOW_UP} 字的處理情形。")
    settings = _settings()
    database = _open_or_fail(settings)
    with typer.progressbar(length=2, label="產生季統計表") as progress:
        try:
            with database.transaction() as session:
                the_agency = _pick_agency(session, agency or settings.agency)
                if note is not None:
                    set_follow_up(session=session, agency_id=the_agency.id, roc_year=year,
                                  quarter=quarter, text=note, member=None, now=_now())
                table = build_quarter_table(session, the_agency, Period(year, quarter))
        except NotFound as exc:
            _fail(_not_found_message(exc))
        progress.update(1)
        content = _table_bytes("quarter", table, fmt)
        progress.update(1)
    _write_report(content, out or Path(f"{year}Q{quarter}自行考核結果統計表.{fmt}"))


@report_app.command("annual")
def report_annual(
    year: Annotated[int, typer.Option(help="民國年度，例如 115")],
    fmt: Annotated[str, typer.Option("--format", help="ods／xlsx／csv／json／png")] = "ods",
    method: Annotated[str, typer.Option(help="average（平均）或 sum（合計）")] = "average",
    out: Annotated[Path | None, typer.Option(help="輸出檔案路徑")] = None,
    agency: Annotated[str | None, typer.Option(help="機關名稱（只有一個機關時可省略）")] = None,
) -> None:
    """年度成績彙總表：第1至4季彙總、名次與嘉獎（成績最優課室、電話禮貌最佳人員、創新方案）。"""
    from reports.build import build_annual_table

    if fmt not in QUARTER_FORMATS:
        _fail(f"不支援的格式 {fmt!r}：可用 {'、'.join(QUARTER_FORMATS)}")
    if method not in ("average", "sum"):
        _fail("--method 應為 average 或 sum")
    settings = _settings()
    database = _open_or_fail(settings)
    with typer.progressbar(length=2, label="產生年度彙總表") as progress:
        try:
            with database.transaction() as session:
                table = build_annual_table(session, _pick_agency(session, agency
                                                                 or settings.agency),
                                           year, method=method)
        except NotFound as exc:
            _fail(_not_found_message(exc))
        progress.update(1)
        content = _table_bytes("annual", table, fmt)
        progress.update(1)
    _write_report(content, out or Path(f"{year}年度自行考核成績彙總表.{fmt}"))


@report_app.command("form")
def report_form(
    year: Annotated[int, typer.Option(help="民國年度，例如 115")],
    section: Annotated[str | None, typer.Option(help="課室名稱，例如 規劃課")] = None,
    quarter: Annotated[int | None, typer.Option(min=1, max=4, help="季別 1-4")] = None,
    blank: Annotated[bool, typer.Option("--blank", help="空白評分表（列印、實地考核用）")] = False,
    fmt: Annotated[str, typer.Option("--format", help="odt／docx")] = "odt",
    out: Annotated[Path | None, typer.Option(help="輸出檔案路徑")] = None,
    agency: Annotated[str | None, typer.Option(help="機關名稱（只有一個機關時可省略）")] = None,
) -> None:
    """某課室某季的自行考核項目及評分表（評分參考標準、自評與審定分數、審定說明、優點與建議）；
    --blank 產生空白評分表。課室尚未開始自評時，產生該課室的空白評分表。"""
    from reports import forms
    from reports.build import blank_section_form, build_section_form
    from storage.assessments import find_assessment

    if fmt not in FORM_FORMATS:
        _fail(f"不支援的格式 {fmt!r}：可用 {'、'.join(FORM_FORMATS)}")
    if not blank and (section is None or quarter is None):
        _fail("請指定 --section 與 --quarter（某課室某季的評分表），或用 --blank 產生空白評分表。")
    settings = _settings()
    database = _open_or_fail(settings)
    try:
        with database.transaction() as session:
            the_agency = _pick_agency(session, agency or settings.agency)
            the_section = get_section(session=session, agency=the_agency, name=section) \
                if section else None
            assessment = None
            if the_section is not None and quarter is not None and not blank:
                assert the_section.id is not None
                assessment = find_assessment(session=session, section_id=the_section.id,
                                             roc_year=year, quarter=quarter)
            if assessment is not None:
                form = build_section_form(session, assessment)
            else:
                if not blank:
                    typer.echo(f"{section} {year}年第{quarter}季尚未開始自評：產生空白評分表。")
                form = blank_section_form(the_agency, year, quarter=quarter,
                                          section=the_section)
    except NotFound as exc:
        _fail(_not_found_message(exc))
    except RubricFileError as exc:
        _fail(f"找不到評分表：{exc.for_operator()}")
    content = forms.form_odt(form) if fmt == "odt" else forms.form_docx(form)
    when = f"{year}Q{quarter}" if quarter else f"{year}年度"
    name = f"{when}{section or ''}{'空白' if form.blank else ''}評分表.{fmt}"
    _write_report(content, out or Path(name))


@report_app.command("proposal")
def report_proposal(
    reference: Annotated[str, typer.Argument(help="提案編號，例如 115-P-0003")],
    fmt: Annotated[str, typer.Option("--format", help="odt／docx")] = "odt",
    out: Annotated[Path | None, typer.Option(help="輸出檔案路徑")] = None,
    agency: Annotated[str | None, typer.Option(help="機關名稱（只有一個機關時可省略）")] = None,
) -> None:
    """一件創意提案的「創意服務計畫」（附錄1 格式），ODT 或 DOCX。"""
    from reports.proposal_doc import build_proposal_document, proposal_docx, proposal_odt
    from storage.proposals import find_by_reference

    if fmt not in FORM_FORMATS:
        _fail(f"不支援的格式 {fmt!r}：可用 {'、'.join(FORM_FORMATS)}")
    wanted = to_halfwidth(reference).strip().upper()
    settings = _settings()
    database = _open_or_fail(settings)
    try:
        with database.transaction() as session:
            the_agency = _pick_agency(session, agency or settings.agency)
            proposal = find_by_reference(session=session, agency_id=the_agency.id,
                                         reference=wanted)
            if proposal is None:
                _fail(f"找不到提案編號 {wanted}（編號格式如 115-P-0003，草稿尚無編號）。")
            document = build_proposal_document(session, proposal)
    except NotFound as exc:
        _fail(_not_found_message(exc))
    content = proposal_odt(document) if fmt == "odt" else proposal_docx(document)
    title = (document.title or "創意服務計畫").replace("/", "_")[:40]
    _write_report(content, out or Path(f"{wanted}_{title}.{fmt}"))


@report_app.command("annual-performance")
def report_annual_performance(
    year: Annotated[int, typer.Option(help="民國年度，例如 115")],
    fmt: Annotated[str, typer.Option("--format", help="odt／docx")] = "odt",
    out: Annotated[Path | None, typer.Option(help="輸出檔案路徑")] = None,
    agency: Annotated[str | None, typer.Option(help="機關名稱（只有一個機關時可省略）")] = None,
) -> None:
    """年度提升服務品質績效總報告初稿：系統統計數據，加上各課室提供、秘書室列入的個案事例與
    檢討，並與聊天室的「年度報告」一樣刪減至 3 頁以內（需要 LibreOffice 計算頁數）。"""
    from reports.performance import (
        MAX_PAGES,
        RenderError,
        fit_to_pages,
        performance_docx,
        performance_odt,
        report_from_storage,
    )

    if fmt not in FORM_FORMATS:
        _fail(f"不支援的格式 {fmt!r}：可用 {'、'.join(FORM_FORMATS)}")
    settings = _settings()
    database = _open_or_fail(settings)
    try:
        with database.transaction() as session:
            the_agency = _pick_agency(session, agency or settings.agency)
            stored = report_from_storage(session, the_agency, year)
    except NotFound as exc:
        _fail(_not_found_message(exc))
    report = stored.report
    typer.echo(f"列入個案事例 {len(stored.case_rows)} 件、檢討 {stored.review_count} 點"
               f"（秘書室設為不列入 {len(stored.left_out)} 則）。")
    try:
        fitted, messages = fit_to_pages(report, MAX_PAGES, formats=(fmt,))
    except RenderError as exc:
        fitted, messages = report, []
        typer.echo(f"無法執行 PDF 頁數檢查（{exc}），以下為未經刪減的草稿，"
                   f"請自行確認不超過{MAX_PAGES}頁。")
    else:
        if messages:
            typer.echo(f"超過{MAX_PAGES}頁，已刪減：")
            for message in messages:
                typer.echo(f"・{message}")
        else:
            typer.echo(f"已確認不超過{MAX_PAGES}頁。")
    content = performance_odt(fitted) if fmt == "odt" else performance_docx(fitted)
    _write_report(content, out or Path(f"{year}年度提升服務品質績效總報告.{fmt}"))
    if not stored.case_rows and not stored.review_count:
        typer.echo("尚未彙整各課室的個案事例與檢討：本檔為只含系統統計數據的初稿，"
                   "各標題下留有待補的位置。")


def _open_or_fail(settings: Settings) -> Any:
    try:
        return open_database(settings)
    except (NotMigrated, StorageError) as exc:
        _fail(str(exc))



def _operator() -> str:
    """Who runs the command, for the audit trail: ``cli:<login>``."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name in a bare container
        return "cli"


@member_app.command("forget")
def member_forget(
    name: Annotated[str, typer.Argument(help="同仁姓名")],
    agency: Annotated[str | None, typer.Option(help="機關名稱（只有一個機關時可省略）")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="不再確認，直接刪除")] = False,
) -> None:
    """刪除一位同仁的聊天帳號與個人資料；課室的分數與修改紀錄保留，稽核紀錄載明此事。"""
    from storage.privacy import forget_member

    settings = _settings()
    database = _open_or_fail(settings)
    try:
        with database.transaction() as session:
            the_agency = _pick_agency(session, agency or settings.agency)
            member = find_member(session=session, agency=the_agency, name=name)
    except NotFound as exc:
        _fail(_not_found_message(exc))
    if not yes and not typer.confirm(
            f"確定要刪除「{name}」的聊天帳號與個人資料嗎？分數與修改紀錄會保留，此動作無法復原。"):
        _fail("已取消，未做任何變更。")
    with database.transaction() as session:
        fresh = session.get(type(member), member.id)
        if fresh is None or not fresh.active:
            _fail(f"找不到同仁「{name}」。")
        line_users = list(session.exec(select(ChatIdentity.platform_user_id).where(
            ChatIdentity.member_id == fresh.id, ChatIdentity.channel == "line")).all())
        report = forget_member(session=session, member=fresh,
                               actor_name=_operator(), now=_now())
    typer.echo(f"已刪除「{name}」的個人資料，現在顯示為「{report.placeholder}」：")
    typer.echo(f"  聊天帳號 {report.identities} 個、對話狀態 {report.conversations} 筆、"
               f"寄給他的訊息 {report.outbox_removed} 則、邀請碼 {report.invitations} 組；")
    typer.echo(f"  其他訊息中的姓名 {report.outbox_scrubbed} 則、電話禮貌測試 "
               f"{report.phone_tests} 筆改為代稱。")
    typer.echo("  課室的分數、答案與修改紀錄都保留；稽核紀錄已記下 member.forget。")
    if line_users and settings.line_channel_access_token is not None:
        _unlink_line_menus(settings, line_users)


def _unlink_line_menus(settings: Settings, user_ids: list[str]) -> None:
    """The forgotten member's LINE chat goes back to the default rich menu."""
    import asyncio

    from bot.richmenu import unlink_users

    assert settings.line_channel_access_token is not None
    try:
        asyncio.run(unlink_users(settings.line_channel_access_token.get_secret_value(), user_ids,
                                 api_base_url=settings.line_api_base_url))
    except Exception as exc:  # the member is forgotten either way
        typer.echo(f"  LINE 選單未能改回預設（{exc.__class__.__name__}）；"
                   "請檢查 LINE_CHANNEL_ACCESS_TOKEN 與網路後，於 LINE 官方帳號管理頁確認。")
        return
    typer.echo("  LINE 的圖文選單已改回預設（未綁定者的選單）。")


@app.command()
def run(
    port: Annotated[int | None, typer.Option(help="HTTP 連接埠（預設 PORT 或 8000）")] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, max=32, help="工作程序數（預設 WORKERS 或 1；多於 1 時請用 PostgreSQL）")] = None,
    listen_fd: Annotated[int | None, typer.Option(hidden=True)] = None,
    worker_index: Annotated[int | None, typer.Option(hidden=True)] = None,
) -> None:
    """啟動機器人服務：webhook 伺服器（/healthz、各平台 webhook）、Telegram 與寄送佇列。"""
    import asyncio

    from bot.runner import Service

    settings = _settings()
    if port is not None:
        settings = settings.model_copy(update={"port": port})
    count = workers or settings.workers
    if listen_fd is not None:
        import socket

        with socket.socket(fileno=listen_fd) as inherited:  # the supervisor's HOST:PORT
            host, bound_port = inherited.getsockname()[:2]
            inherited.detach()
        settings = settings.model_copy(update={"host": host, "port": bound_port})
    elif count > 1:
        _supervise(settings, count)
        return
    try:
        database = open_database(settings)
    except (NotMigrated, StorageError) as exc:
        _fail(str(exc))
    if listen_fd is None:
        channels = [name for name, on in (("Telegram", settings.telegram_enabled),
                                          ("LINE", settings.line_enabled)) if on]
        none = "無，請設定 TELEGRAM_BOT_TOKEN 或 LINE 憑證"
        typer.echo(f"sqbot 服務啟動於 http://{settings.host}:{settings.port}"
                   f"（頻道：{'、'.join(channels) or none}）")
    asyncio.run(Service(settings, database, worker_index=worker_index,
                        listen_fd=listen_fd).run())


def _supervise(settings: Settings, count: int) -> None:
    from bot import workers

    try:  # check the database once here, so a wrong DATABASE_URL is one clear message
        open_database(settings).dispose()
    except (NotMigrated, StorageError) as exc:
        _fail(str(exc))
    try:
        sock = workers.bind(settings.host, settings.port)
    except OSError as exc:
        _fail(f"無法監聽 {settings.host}:{settings.port}（HOST、PORT）：{exc.strerror}")
    if settings.database_url.startswith("sqlite"):
        typer.echo("注意：SQLite 一次只允許一個程序寫入，多個工作程序會互相等待；"
                   "正式環境請將 DATABASE_URL 設為 PostgreSQL。", err=True)
    typer.echo(f"sqbot 服務啟動於 http://{settings.host}:{settings.port}（{count} 個工作程序）")
    raise typer.Exit(workers.Supervisor(sock, count).run())


def main() -> None:
    """Entry point of the ``sqbot`` console script."""
    try:
        app()
    except RubricError as exc:  # pragma: no cover - commands catch their own
        typer.echo(str(exc), err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
