"""crawl_attempts.covered_from: how far back a listing reached (a crawl proves "no post" only there)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_attempts") as batch:
        batch.add_column(sa.Column("covered_from", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crawl_attempts") as batch:
        batch.drop_column("covered_from")
