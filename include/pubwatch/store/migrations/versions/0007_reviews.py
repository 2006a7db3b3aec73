"""人工复核: the reviews table (#20)

A supervisor's correction of one verdict (unit, channel, period, rule): the status set (met, missed,
exempt), the status it replaced, a reason, an optional evidence URL, who and when. Rows are never
updated nor deleted; the newest review of a verdict is the one in force. The evaluations table stays
what the rules computed — the reviews are laid over it where verdicts are read.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit_id", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("rule", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("previous_status", sa.String(length=10), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence_url", sa.Text(), nullable=True),
        sa.Column("reviewer", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reviews") as batch:
        batch.create_index("ix_reviews_period_unit", ["period", "unit_id"], unique=False)
        batch.create_index("ix_reviews_created", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.drop_index("ix_reviews_created")
        batch.drop_index("ix_reviews_period_unit")
    op.drop_table("reviews")
