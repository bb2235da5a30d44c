"""Tables, timestamps, invitations and the demo office on a real database."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlmodel import select

from storage.db import Database, normalize_url
from storage.errors import DatabaseConfigError, InvitationError, InvitationProblem
from storage.invitations import (
    ALPHABET,
    CODE_LENGTH,
    create_invitation,
    format_code,
    looks_like_code,
    normalize_code,
    redeem_for_identity,
)
from storage.models import (
    Agency,
    Answer,
    AnswerRevision,
    Assessment,
    ChatIdentity,
    ConversationState,
    Role,
)
from storage.org import (
    DEMO_AGENCY,
    DEMO_SECTIONS,
    add_member,
    ensure_demo_agency,
    get_section,
    list_sections,
    member_for_identity,
)

NOW = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


def test_demo_agency_has_the_seed_sections_and_is_idempotent(database):
    with database.transaction() as session:
        agency = ensure_demo_agency(session=session)
    with database.transaction() as session:
        again = ensure_demo_agency(session=session)
        names = [s.name for s in list_sections(session=session, agency=again)]
    assert again.id == agency.id
    assert agency.name == DEMO_AGENCY == "經濟部水利署第十河川局"
    assert names == [name for name, _ in DEMO_SECTIONS]
    assert names[0] == "秘書室" and names[-1] == "員山子分洪管理中心"


def test_timestamps_come_back_aware_utc(database):
    taipei_time = datetime(2027, 1, 1, 0, 30, tzinfo=ZoneInfo("Asia/Taipei"))
    with database.transaction() as session:
        session.add(Agency(name="測試機關", created_at=taipei_time))
    with database.transaction() as session:
        stored = session.exec(select(Agency).where(Agency.name == "測試機關")).one()
    assert stored.created_at.tzinfo is not None
    assert stored.created_at.utcoffset() == timedelta(0)
    assert stored.created_at == taipei_time
    assert stored.created_at == datetime(2026, 12, 31, 16, 30, tzinfo=UTC)


def test_naive_timestamp_is_refused(database):
    with (
        pytest.raises(sa.exc.StatementError, match="naive datetime"),
        database.transaction() as session,
    ):
        session.add(Agency(name="天真機關", created_at=datetime(2026, 1, 1)))
        session.flush()


def _agency_with_section(session):
    agency = ensure_demo_agency(session=session)
    return agency, get_section(session=session, agency=agency, name="規劃課")


def test_invitation_binds_identity_once(database):
    with database.transaction() as session:
        agency, section = _agency_with_section(session)
        code = create_invitation(session=session, agency=agency, role=Role.STAFF, now=NOW,
                                 section=section, member_name="王小明").code
    assert len(code) == CODE_LENGTH and set(code) <= set(ALPHABET)
    typed = format_code(code).lower().replace("-", " ")  # as someone might type it
    with database.transaction() as session:
        member = redeem_for_identity(session=session, text=typed, channel="telegram",
                                     platform_user_id="1001", display_name="Ming", now=NOW)
    assert member.name == "王小明"
    assert member.role == Role.STAFF
    with database.transaction() as session:
        found = member_for_identity(session=session, channel="telegram", platform_user_id="1001")
        assert found is not None and found.id == member.id
        with pytest.raises(InvitationError) as info:
            redeem_for_identity(session=session, text=code, channel="line",
                                platform_user_id="U2", display_name=None, now=NOW)
    assert info.value.reason is InvitationProblem.USED


def test_expired_and_unknown_codes_are_refused_with_their_reason(database):
    with database.transaction() as session:
        agency, section = _agency_with_section(session)
        code = create_invitation(session=session, agency=agency, role=Role.STAFF, now=NOW,
                                 section=section, valid_for=timedelta(days=1)).code
    for text, when, reason in [
        (code, NOW + timedelta(days=1), InvitationProblem.EXPIRED),
        ("ABCDE-FGHJK", NOW, InvitationProblem.UNKNOWN),
    ]:
        with pytest.raises(InvitationError) as info, database.transaction() as session:
            redeem_for_identity(session=session, text=text, channel="telegram",
                                platform_user_id="1002", display_name=None, now=when)
        assert info.value.reason is reason
    with database.transaction() as session:
        assert session.exec(select(ChatIdentity)).all() == []


def test_one_member_binds_line_and_telegram(database):
    with database.transaction() as session:
        agency, section = _agency_with_section(session)
        first = create_invitation(session=session, agency=agency, role=Role.SECTION_HEAD,
                                  now=NOW, section=section, member_name="李課長").code
    with database.transaction() as session:
        member = redeem_for_identity(session=session, text=first, channel="telegram",
                                     platform_user_id="2001", display_name=None, now=NOW)
    with database.transaction() as session:
        second = create_invitation(session=session, agency=agency, role=Role.STAFF, now=NOW,
                                   member=member).code
    with database.transaction() as session:
        again = redeem_for_identity(session=session, text=second, channel="line",
                                    platform_user_id="U" + "a" * 32, display_name=None, now=NOW)
        identities = session.exec(select(ChatIdentity).where(
            ChatIdentity.member_id == member.id)).all()
    assert again.id == member.id
    assert again.role == Role.SECTION_HEAD  # the role of the member, not of the second code
    assert sorted(i.channel for i in identities) == ["line", "telegram"]


def test_a_chat_identity_belongs_to_one_member(database):
    with database.transaction() as session:
        agency, section = _agency_with_section(session)
        a = add_member(session=session, agency=agency, name="甲", role=Role.STAFF, section=section)
        b = add_member(session=session, agency=agency, name="乙", role=Role.STAFF, section=section)
        session.add(ChatIdentity(member_id=a.id, channel="line", platform_user_id="U1"))
    with pytest.raises(sa.exc.IntegrityError), database.transaction() as session:
        session.add(ChatIdentity(member_id=b.id, channel="line", platform_user_id="U1"))


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [("abcde-fghjk", "ABCDEFGHJK"), ("ＡＢＣＤＥ　ＦＧＨＪＫ", "ABCDEFGHJK"), (" AB CD ", "ABCD")],
)
def test_code_normalization(typed, normalized):
    assert normalize_code(typed) == normalized


def test_looks_like_code():
    assert looks_like_code("ABCDE-FGHJK")
    assert not looks_like_code("你好")
    assert not looks_like_code("ABCDE-FGHJ0")  # 0 is not in the alphabet


def test_revisions_are_append_only(database):
    with database.transaction() as session:
        agency, section = _agency_with_section(session)
        assessment = Assessment(agency_id=agency.id, section_id=section.id, roc_year=115,
                                quarter=4, rubric_year=105)
        session.add(assessment)
        session.flush()
        answer = Answer(assessment_id=assessment.id, question_code="1.1", self_score=90)
        session.add(answer)
        session.flush()
        revision = AnswerRevision(answer_id=answer.id, field="self_score", old_value=None,
                                  new_value="90")
        session.add(revision)
    with pytest.raises(ValueError, match="append-only"), database.transaction() as session:
        stored = session.get(AnswerRevision, revision.id)
        stored.new_value = "100"
        session.flush()


def test_one_assessment_per_section_and_quarter(database):
    with database.transaction() as session:
        agency, section = _agency_with_section(session)
        session.add(Assessment(agency_id=agency.id, section_id=section.id, roc_year=115,
                               quarter=4, rubric_year=105))
    with pytest.raises(sa.exc.IntegrityError), database.transaction() as session:
        session.add(Assessment(agency_id=agency.id, section_id=section.id, roc_year=115,
                               quarter=4, rubric_year=105))


def test_conversation_state_json_round_trip(database):
    state = {"flow": "assessment", "question": "2.4", "path": ["1.1", "1.2"], "名稱": "中文"}
    with database.transaction() as session:
        session.add(ConversationState(channel="line", platform_user_id="U9", state=state))
    with database.transaction() as session:
        stored = session.exec(select(ConversationState)).one()
    assert stored.state == state


def test_sqlite_runs_in_wal_mode_with_busy_timeout(tmp_path):
    database = Database.from_url(f"sqlite:///{tmp_path}/nested/dir/sqbot.db")
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert (tmp_path / "nested" / "dir" / "sqbot.db").exists()
    database.dispose()


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///var/x.db", "sqlite"),
    ],
)
def test_database_urls_are_normalized(url, driver):
    assert normalize_url(url).drivername == driver


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("not a url", "not a database URL"),
        ("mysql://root:hunter2@h/db", "supports SQLite and PostgreSQL"),
        ("sqlite://", "must name a SQLite file"),
        ("sqlite:///:memory:", "must name a SQLite file"),
    ],
)
def test_bad_database_urls_name_the_setting_and_hide_passwords(url, problem):
    with pytest.raises(DatabaseConfigError) as info:
        normalize_url(url)
    assert str(info.value).startswith("DATABASE_URL")
    assert problem in str(info.value)
    assert "hunter2" not in str(info.value)


def test_event_ids_and_outbox_keys_are_taken_once(database):
    from storage.conversations import record_event
    from storage.outbox import enqueue

    with database.transaction() as session:
        assert record_event(session=session, channel="line", event_id="e1", now=NOW)
        assert not record_event(session=session, channel="line", event_id="e1", now=NOW)
        assert record_event(session=session, channel="telegram", event_id="e1", now=NOW)
    with database.transaction() as session:
        assert not record_event(session=session, channel="line", event_id="e1", now=NOW)
        assert enqueue(session=session, destination=("line", "G1"), payload={"text": "a"},
                       key="k1", now=NOW)
        assert not enqueue(session=session, destination=("line", "G1"), payload={"text": "b"},
                           key="k1", now=NOW)


def test_two_members_adding_the_last_case_at_once_cannot_exceed_three(database):
    """The limit of report cases per heading is counted under a lock on the section: the
    second writer waits for the first and then finds the heading full."""
    import threading

    from storage.models import Member, ReportCase
    from storage.report_cases import MAX_PER_HEADING, add_report_case

    with database.transaction() as session:
        agency = ensure_demo_agency(session=session)
        section = get_section(session=session, agency=agency, name="規劃課")
        first = Member(agency_id=agency.id, section_id=section.id, name="甲")
        second = Member(agency_id=agency.id, section_id=section.id, name="乙")
        session.add_all([first, second])
        session.flush()
        for n in range(MAX_PER_HEADING - 1):
            add_report_case(session=session, member=first, roc_year=115, heading=1,
                            text=f"案例{n}", now=NOW)
        first_id, second_id = first.id, second.id

    holding, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def add(name: str, member_id: int, hold: bool) -> None:
        with database.transaction() as session:
            member = session.get(Member, member_id)
            results[name] = add_report_case(session=session, member=member, roc_year=115,
                                            heading=1, text=f"{name}的案例", now=NOW)
            if hold:
                holding.set()
                release.wait(timeout=30)

    a = threading.Thread(target=add, args=("a", first_id, True))
    b = threading.Thread(target=add, args=("b", second_id, False))
    a.start()
    try:
        assert holding.wait(timeout=30)
        b.start()
        b.join(timeout=1.0)
        waited = b.is_alive()
    finally:
        release.set()
        a.join(timeout=30)
        if b.ident is not None:
            b.join(timeout=30)
    assert waited, "the second writer did not wait for the first"
    assert results["a"] is not None and results["b"] is None
    with database.transaction() as session:
        assert len(session.exec(select(ReportCase)).all()) == MAX_PER_HEADING
