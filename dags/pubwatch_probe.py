"""pubwatch_probe — 网站可用性监测 (see doc_md below)."""
from __future__ import annotations

import os
import sys

from airflow.sdk import dag, get_current_context, task

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # glue beside the DAGs
import pubwatch_glue as glue  # noqa: E402

DOC = """
### 网站可用性监测 (pubwatch_probe)

**做什么**: 每小时访问一次各单位门户栏目 (一天24次, 与国家检查指标 "每天间隔性访问20次以上" 一致),
记录是否在15秒内打开。每周统计 **打不开的占比**, 超过(含)5% 即在周汇总和通报明细中列为 "网站可用性问题"。

**不会冤枉单位**: 可用性是单独的发现, **不会** 因此把单位记为未达标。被防火墙拦截单独统计, 不算打不开。
"""


@dag(**glue.dag_args("pubwatch_probe", "网站可用性监测", "7 * * * *", DOC))
def pubwatch_probe():
    @task(doc_md="读取单位登记表 (有错误的条目被跳过)。")
    def prepare_units() -> list[dict]:
        return glue.prepare_for_run(get_current_context())

    @task(map_index_template="{{ unit_label }}", max_active_tis_per_dagrun=4, pool=glue.CRAWL_POOL,
          doc_md="访问一个单位的门户栏目一次, 记录是否打开及耗时。")
    def probe_unit(unit: dict) -> dict:
        ctx = get_current_context()
        ctx["unit_label"] = unit["unit_name"]
        return glue.probe_for_run(ctx, unit)

    probe_unit.expand(unit=prepare_units())


pubwatch_probe()
