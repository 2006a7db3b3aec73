"""Evaluation at scale: posts by (source, time), verdict digests, evaluation runs

* ix_posts_source_published: the rules' history tail is each source's latest post, found by one
  index probe per source instead of aggregating two years of posts.
* evaluations.digest: md5 of a verdict's content; a re-evaluation rewrites only rows that changed.
* evaluation_runs: one row per evaluation of a period (as of when, how many verdicts, how many
  changed, how long) — `jobs.latest_as_of` reads it, since unchanged rows keep their old as_of.
* sources rows for any source that has posts but no row (the tail query starts from `sources`).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.create_index("ix_posts_source_published", ["source_id", "published_at"], unique=False)
    with op.batch_alter_table("evaluations") as batch:
        batch.add_column(sa.Column("digest", sa.String(length=32), nullable=True))
    op.create_table(
        "evaluation_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("as_of", sa.DateTime(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("verdicts", sa.Integer(), nullable=False),
        sa.Column("written", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("evaluation_runs") as batch:
        batch.create_index("ix_evaluation_runs_period", ["period", "as_of"], unique=False)
    # What earlier evaluations knew, so latest_as_of stays right for periods evaluated before.
    op.execute(
        "INSERT INTO evaluation_runs (period, as_of, evaluated_at, units, verdicts, written, removed, seconds) "
        "SELECT period, MAX(as_of), MAX(evaluated_at), COUNT(DISTINCT unit_id), COUNT(*), COUNT(*), 0, 0 "
        "FROM evaluations GROUP BY period")
    op.execute(
        "INSERT INTO sources (id, unit_id, channel, type, name, url, column_type, state) "
        "SELECT source_id, MIN(unit_id), MIN(channel), 'unknown', source_id, '', MIN(column_type), '{}' "
        "FROM posts WHERE source_id NOT IN (SELECT id FROM sources) GROUP BY source_id")


def downgrade() -> None:
    with op.batch_alter_table("evaluation_runs") as batch:
        batch.drop_index("ix_evaluation_runs_period")
    op.drop_table("evaluation_runs")
    with op.batch_alter_table("evaluations") as batch:
        batch.drop_column("digest")
    with op.batch_alter_table("posts") as batch:
        batch.drop_index("ix_posts_source_published")
