"""report cases: the sections' 個案事例 and 檢討 points for the annual performance report

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 02:07:50.620526
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("section_id", sa.Integer(), nullable=False),
        sa.Column("roc_year", sa.Integer(), nullable=False),
        sa.Column("heading", sa.Integer(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("figures", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("kept", sa.Boolean(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.ForeignKeyConstraint(["section_id"], ["sections.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("report_cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_cases_agency_id"), ["agency_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_report_cases_roc_year"), ["roc_year"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_report_cases_section_id"), ["section_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_cases_section_id"))
        batch_op.drop_index(batch_op.f("ix_report_cases_roc_year"))
        batch_op.drop_index(batch_op.f("ix_report_cases_agency_id"))
    op.drop_table("report_cases")
