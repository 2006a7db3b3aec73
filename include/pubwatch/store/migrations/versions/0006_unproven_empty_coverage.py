"""Drop coverage that came from unproven empty reads (#15)

Until #15 a single read of a list that said 暂无信息 (or an empty JSON list, a maintenance page with an
empty datastore, ...) was taken to cover the column's *whole history*: the attempt was stored with
covered_from = 1970-01-01 (types.COVERS_ALL; before revision 3d1a98a it was NULL and read the same
way) and the source's state with covered_from = "all", which every later read then chained onto.
Such an empty read is no longer proof (sources.base.settle_empty), and nothing else ever produced
whole-history coverage, so both are dropped:

* crawl_attempts.covered_from = 1970-01-01 → NULL ("never computed": the attempt verifies nothing);
* sources.state["covered_from"] = "all" → removed, so the source's next read is a first read again
  (it pages back over the weeks the office evaluates, crawl.first_read_since) and starts an honest chain.

Weeks judged 未达标 on that basis become 无法核实 when re-evaluated. No schema change; the downgrade
cannot bring the dropped coverage back (and must not).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_BEFORE_ANY_REAL_COVERAGE = datetime(1970, 1, 2)      # COVERS_ALL is 1970-01-01 00:00 UTC


def upgrade() -> None:
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE crawl_attempts SET covered_from = NULL WHERE covered_from < :cut"),
                 {"cut": _BEFORE_ANY_REAL_COVERAGE})
    sources = sa.table("sources", sa.column("id", sa.String), sa.column("state", sa.JSON))
    for sid, state in bind.execute(sa.select(sources.c.id, sources.c.state)).all():
        if isinstance(state, dict) and state.get("covered_from") == "all":
            kept = {k: v for k, v in state.items() if k != "covered_from"}
            bind.execute(sources.update().where(sources.c.id == sid).values(state=kept))


def downgrade() -> None:
    pass                                              # dropped proof is not restored
