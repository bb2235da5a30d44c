"""code failures: wrong invitation codes counted per chat, per platform user and overall

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 13:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "code_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("failed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_code_failures_scope", "code_failures", ["scope"])
    op.create_index("ix_code_failures_failed_at", "code_failures", ["failed_at"])


def downgrade() -> None:
    op.drop_index("ix_code_failures_failed_at", table_name="code_failures")
    op.drop_index("ix_code_failures_scope", table_name="code_failures")
    op.drop_table("code_failures")
