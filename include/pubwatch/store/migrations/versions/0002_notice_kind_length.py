"""notice kind up to 60 characters (early warnings are per rule: warn:<rule>)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.alter_column("kind", type_=sa.String(60), existing_type=sa.String(20), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.alter_column("kind", type_=sa.String(20), existing_type=sa.String(60), existing_nullable=False)
