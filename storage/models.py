"""SQLModel tables: every fact sqbot keeps.

Timestamps are UTC-aware (:class:`storage.types.UTCDateTime`). Enumerations are stored as
short strings so a new value needs no database type change. Families follow the
``XBase`` / ``X(table=True)`` shape where a non-table model is useful.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def _ts(*, nullable: bool = False, index: bool = False) -> Any:
    """A UTC timestamp column: now by default, or empty when ``nullable``."""
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)


class Role(StrEnum):
    """What a member may do."""

    STAFF = "staff"
    SECTION_HEAD = "section_head"
    SECRETARIAT = "secretariat"
    ADMIN = "admin"


class Channel(StrEnum):
    """Where a chat identity lives."""

    TELEGRAM = "telegram"
    LINE = "line"
    CONSOLE = "console"


class AssessmentStatus(StrEnum):
    """Life of a quarter's self-assessment."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    VERIFIED = "verified"


class ProposalStatus(StrEnum):
    """Life of an innovation proposal (創意提案)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    MORE_INFO = "more_info"
    ADOPTED = "adopted"
    REJECTED = "rejected"
    IMPLEMENTED = "implemented"


class OutboxStatus(StrEnum):
    """Delivery state of an outbox row."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    HELD = "held"  # for the secretariat, which has no chat yet: copied out once it has one
    RELEASED = "released"  # a held row whose copies were queued


# --- organisation ----------------------------------------------------------------------------


class Agency(SQLModel, table=True):
    """機關: owns sections, members, chats and its choice of rubric."""

    __tablename__ = "agencies"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    rubric_year: int | None = Field(default=None, description="ROC year of the form; None=latest")
    created_at: datetime = _ts()


class Section(SQLModel, table=True):
    """課室: a unit of an agency that answers the self-assessment."""

    __tablename__ = "sections"
    __table_args__ = (sa.UniqueConstraint("agency_id", "name", name="uq_sections_agency_name"),)

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agencies.id", index=True)
    name: str = Field(max_length=100)
    position: int = Field(default=0, description="編號: order in tables and forms")
    assessed: bool = Field(default=True, description="False for a section that only assesses")
    created_at: datetime = _ts()


class Member(SQLModel, table=True):
    """A person: staff, section head, secretariat or admin."""

    __tablename__ = "members"

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agencies.id", index=True)
    section_id: int | None = Field(default=None, foreign_key="sections.id", index=True)
    name: str = Field(max_length=100)
    role: str = Field(default=Role.STAFF, max_length=16)
    active: bool = True
    created_at: datetime = _ts()


class ChatIdentity(SQLModel, table=True):
    """A platform account bound to a member: (channel, platform user id) is unique."""

    __tablename__ = "chat_identities"
    __table_args__ = (
        sa.UniqueConstraint("channel", "platform_user_id", name="uq_identities_channel_user"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="members.id", index=True)
    channel: str = Field(max_length=16)
    platform_user_id: str = Field(max_length=128)
    unreachable_since: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class InvitationCode(SQLModel, table=True):
    """A single-use code that binds a chat identity (or a group chat) to a role."""

    __tablename__ = "invitation_codes"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    agency_id: int = Field(foreign_key="agencies.id", index=True)
    section_id: int | None = Field(default=None, foreign_key="sections.id")
    member_id: int | None = Field(default=None, foreign_key="members.id",
                                  description="bind to this existing member (second channel)")
    member_name: str | None = Field(default=None, max_length=100)
    role: str = Field(max_length=16)
    expires_at: datetime = _ts()
    used_at: datetime | None = _ts(nullable=True)
    used_by_identity_id: int | None = Field(default=None, foreign_key="chat_identities.id")
    revoked_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class ChatBinding(SQLModel, table=True):
    """A group chat bound to an agency for a role (the secretariat's group)."""

    __tablename__ = "chat_bindings"
    __table_args__ = (sa.UniqueConstraint("channel", "chat_id", name="uq_bindings_channel_chat"),)

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agencies.id", index=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=128)
    role: str = Field(default=Role.SECRETARIAT, max_length=16)
    bound_by_member_id: int | None = Field(default=None, foreign_key="members.id")
    unreachable_since: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


# --- the self-assessment ---------------------------------------------------------------------


class Assessment(SQLModel, table=True):
    """A section's self-assessment of one quarter, shared by all its members."""

    __tablename__ = "assessments"
    __table_args__ = (
        sa.UniqueConstraint("section_id", "roc_year", "quarter", name="uq_assessments_period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agencies.id", index=True)
    section_id: int = Field(foreign_key="sections.id", index=True)
    roc_year: int
    quarter: int
    rubric_year: int
    status: str = Field(default=AssessmentStatus.DRAFT, max_length=16)
    version: int = Field(default=1, description="optimistic lock, bumped on every change")
    reference: str | None = Field(default=None, max_length=32, unique=True,
                                  description="收件確認 reference number")
    submitted_at: datetime | None = _ts(nullable=True)
    submitted_by_member_id: int | None = Field(default=None, foreign_key="members.id")
    verified_at: datetime | None = _ts(nullable=True)
    assessor_member_id: int | None = Field(default=None, foreign_key="members.id",
                                           description="考核人員")
    assessed_on: date | None = Field(default=None, description="考核日期")
    strengths_and_suggestions: str | None = Field(default=None, description="優點、建議改進事項")
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Answer(SQLModel, table=True):
    """The current answer to one question of an assessment; its history is in revisions."""

    __tablename__ = "answers"
    __table_args__ = (
        sa.UniqueConstraint("assessment_id", "question_code", name="uq_answers_question"),
    )

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessments.id", index=True)
    question_code: str = Field(max_length=16)
    self_score: int | None = None
    measure_value: float | None = Field(default=None, description="e.g. the phone-test score")
    evidence_text: str | None = None
    answered_by_member_id: int | None = Field(default=None, foreign_key="members.id")
    answered_at: datetime | None = _ts(nullable=True)
    verified_score: int | None = None
    reviewer_comment: str | None = None
    reviewed_by_member_id: int | None = Field(default=None, foreign_key="members.id")
    reviewed_at: datetime | None = _ts(nullable=True)
    returned: bool = Field(default=False, description="returned to the section for editing")
    #: the quarter whose answer this one was taken from (沿用上季: "115年第3季"); cleared when
    #: the score is changed afterwards
    carried_from: str | None = Field(default=None, max_length=16)


class AnswerRevision(SQLModel, table=True):
    """Append-only history of every change to an answer: who, when, old and new, why."""

    __tablename__ = "answer_revisions"

    id: int | None = Field(default=None, primary_key=True)
    answer_id: int = Field(foreign_key="answers.id", index=True)
    field: str = Field(max_length=32)
    old_value: str | None = None
    new_value: str | None = None
    changed_by_member_id: int | None = Field(default=None, foreign_key="members.id")
    changed_at: datetime = _ts()
    reason: str | None = None


class Attachment(SQLModel, table=True):
    """Evidence: a photo or file sent with an answer or a proposal."""

    __tablename__ = "attachments"

    id: int | None = Field(default=None, primary_key=True)
    answer_id: int | None = Field(default=None, foreign_key="answers.id", index=True)
    proposal_id: int | None = Field(default=None, foreign_key="proposals.id", index=True)
    channel: str = Field(max_length=16)
    platform_file_id: str | None = Field(default=None, max_length=255)
    filename: str | None = Field(default=None, max_length=255)
    mime_type: str = Field(default="application/octet-stream", max_length=127)
    size: int = 0
    sha256: str = Field(max_length=64, index=True)
    stored_path: str | None = Field(default=None, max_length=500)
    content: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    uploaded_by_member_id: int | None = Field(default=None, foreign_key="members.id")
    created_at: datetime = _ts()


class Proposal(SQLModel, table=True):
    """創意服務提案, laid out like 附錄1."""

    __tablename__ = "proposals"

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agencies.id", index=True)
    section_id: int | None = Field(default=None, foreign_key="sections.id", index=True)
    proposer_member_id: int | None = Field(default=None, foreign_key="members.id")
    roc_year: int
    reference: str | None = Field(default=None, max_length=32, unique=True)
    title: str | None = Field(default=None, max_length=200, description="創意服務名稱")
    kind: str | None = Field(default=None, max_length=64, description="one of the 8 kinds")
    background: str | None = Field(default=None, description="個案背景與問題描述")
    solution: str | None = Field(default=None, description="採用解決方法")
    benefits: str | None = Field(default=None, description="實際效益")
    external_benefits: str | None = Field(default=None, description="外部效益")
    internal_benefits: str | None = Field(default=None, description="內部效益")
    process_integration: str | None = Field(default=None, description="流程整合")
    ict_adoption: str | None = Field(default=None, description="資通訊服務導入")
    evidence_note: str | None = Field(default=None, description="附件: URL, address, notes")
    status: str = Field(default=ProposalStatus.DRAFT, max_length=16)
    decision_note: str | None = None
    decided_by_member_id: int | None = Field(default=None, foreign_key="members.id")
    decided_at: datetime | None = _ts(nullable=True)
    submitted_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class PhoneCourtesyTest(SQLModel, table=True):
    """電話禮貌測試: one test of one person of a section."""

    __tablename__ = "phone_courtesy_tests"

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agencies.id", index=True)
    section_id: int = Field(foreign_key="sections.id", index=True)
    tested_on: date
    person_tested: str = Field(max_length=100)
    score: int = Field(ge=0, le=100)
    tester: str | None = Field(default=None, max_length=100)
    note: str | None = None
    recorded_by_member_id: int | None = Field(default=None, foreign_key="members.id")
    created_at: datetime = _ts()


class ReportCase(SQLModel, table=True):
    """個案事例 of a section for the annual 績效總報告: under one of the five headings of
    壹、執行績效 (1-5), or a point for 貳、檢討 (heading 0)."""

    __tablename__ = "report_cases"

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agencies.id", index=True)
    section_id: int = Field(foreign_key="sections.id", index=True)
    roc_year: int = Field(index=True)
    heading: int = Field(ge=0, le=5, description="1-5: 壹's headings; 0: 貳、檢討")
    text: str
    figures: str | None = Field(default=None, description="the quantified result")
    member_id: int | None = Field(default=None, foreign_key="members.id",
                                  description="who wrote it")
    kept: bool = Field(default=True, description="False: the secretariat left it out")
    pinned: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()},
                         description="the secretariat chose 保留: never cut to fit the pages")
    created_at: datetime = _ts()


# --- delivery and bookkeeping ----------------------------------------------------------------


class ConversationState(SQLModel, table=True):
    """Where a chat identity is in a flow, as versioned JSON; the row is locked per event."""

    __tablename__ = "conversation_states"
    __table_args__ = (
        sa.UniqueConstraint("channel", "platform_user_id", name="uq_states_channel_user"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    platform_user_id: str = Field(max_length=128)
    schema_version: int = 1
    state: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    updated_at: datetime = _ts()


class QuarterNote(SQLModel, table=True):
    """考核結果處理情形 of a quarter: what the secretariat did with the results (printed on the
    quarterly table)."""

    __tablename__ = "quarter_notes"
    __table_args__ = (
        sa.UniqueConstraint("agency_id", "roc_year", "quarter", name="uq_quarter_notes"),
    )

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agencies.id")
    roc_year: int
    quarter: int
    follow_up: str = Field(sa_type=sa.Text)
    updated_by_member_id: int | None = Field(default=None, foreign_key="members.id")
    updated_at: datetime = _ts()


class CodeFailure(SQLModel, table=True):
    """A wrong invitation code, counted against each scope it came from (a chat, a platform
    user, the whole deployment); ``scope`` is a hash, so no platform id is kept here."""

    __tablename__ = "code_failures"

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=64, index=True)
    failed_at: datetime = _ts(index=True)


class ProcessedEvent(SQLModel, table=True):
    """A platform event id already handled: a redelivery of it is dropped."""

    __tablename__ = "processed_events"

    channel: str = Field(max_length=16, primary_key=True)
    event_id: str = Field(max_length=128, primary_key=True)
    processed_at: datetime = _ts(index=True)


class OutboxMessage(SQLModel, table=True):
    """A message for someone other than the sender, delivered once by the outbox sender."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int | None = Field(default=None, foreign_key="agencies.id", index=True)
    channel: str = Field(max_length=16)
    destination: str = Field(max_length=128, description="chat or user id on the platform")
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    idempotency_key: str = Field(max_length=64, unique=True)
    batch_key: str | None = Field(default=None, max_length=64, index=True,
                                  description="the multicast this row went out in, once tried")
    status: str = Field(default=OutboxStatus.PENDING, max_length=16, index=True)
    attempts: int = 0
    parts_sent: int = Field(default=0, sa_column_kwargs={"server_default": "0"},
                            description="parts of the message delivered; a retry sends the rest")
    next_attempt_at: datetime = _ts(index=True)
    last_error: str | None = None
    created_at: datetime = _ts()
    sent_at: datetime | None = _ts(nullable=True)


class ReminderLog(SQLModel, table=True):
    """A reminder sent to a recipient: (kind, period, recipient) is unique, so never twice."""

    __tablename__ = "reminder_log"
    __table_args__ = (
        sa.UniqueConstraint("kind", "period", "recipient", name="uq_reminders_once"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    period: str = Field(max_length=16)
    recipient: str = Field(max_length=128)
    outbox_id: int | None = Field(default=None, foreign_key="outbox.id")
    sent_at: datetime = _ts()


class AuditEvent(SQLModel, table=True):
    """Who did what to which record, for changes outside the answer history."""

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int | None = Field(default=None, foreign_key="agencies.id", index=True)
    actor_member_id: int | None = Field(default=None, foreign_key="members.id")
    action: str = Field(max_length=64)
    subject: str = Field(max_length=128)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    at: datetime = _ts()


@sa.event.listens_for(AnswerRevision, "before_update")
@sa.event.listens_for(AuditEvent, "before_update")
def _append_only(mapper: Any, connection: Any, target: Any) -> None:
    raise ValueError(f"{type(target).__name__} rows are append-only")


metadata = SQLModel.metadata
