"""evaluations: one unique index led by the period (replaces the unit-first key and the period index)

Every query on evaluations names the period; writing a new period's rows into a period-first index
appends to one region of it instead of touching pages all over a unit-first one (COPY of 50,000
rows beside 13 million: 0.90 s → 0.73 s), and the separate period index becomes redundant.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evaluations") as batch:
        batch.drop_index("ix_evaluations_period")
        batch.drop_constraint("uq_evaluations_key", type_="unique")
        batch.create_unique_constraint("uq_evaluations_key", ["period", "unit_id", "channel", "rule"])


def downgrade() -> None:
    with op.batch_alter_table("evaluations") as batch:
        batch.drop_constraint("uq_evaluations_key", type_="unique")
        batch.create_unique_constraint("uq_evaluations_key", ["unit_id", "channel", "period", "rule"])
        batch.create_index("ix_evaluations_period", ["period"], unique=False)
