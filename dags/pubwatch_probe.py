"""pubwatch_probe — 网站可用性监测 (see doc_md below)."""
from __future__ import annotations

import os
import sys

import pendulum
from airflow.sdk import dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # glue beside the DAGs
import pubwatch_glue as glue  # noqa: E402

DOC = """
### 网站可用性监测 (pubwatch_probe)

**做什么**: 每小时访问一次各单位门户栏目 (一天24次, 与国家检查指标 "每天间隔性访问20次以上" 一致),
记录是否在15秒内打开。每周统计 **打不开的占比**, 超过(含)5% 即在周汇总和通报明细中列为 "网站可用性问题"。

**不会冤枉单位**: 可用性是单独的发现, **不会** 因此把单位记为未达标。被防火墙拦截单独统计, 不算打不开。
"""


@dag(
    dag_id="pubwatch_probe",
    dag_display_name="网站可用性监测 (pubwatch_probe)",
    schedule=CronTriggerTimetable("7 * * * *", timezone=glue.TZ_NAME),
    start_date=pendulum.datetime(2026, 1, 1, tz=glue.TZ_NAME),
    catchup=False,
    max_active_runs=1,
    default_args={**glue.DEFAULT_ARGS, "retries": 0},
    tags=["pubwatch", "政务公开"],
    doc_md=DOC,
)
def pubwatch_probe():
    @task(doc_md="读取单位登记表 (有错误的条目被跳过)。", retries=1)
    def prepare_units() -> list[dict]:
        rt = glue.runtime()
        try:
            return glue.prepare(rt, None)
        finally:
            rt.close()

    @task(map_index_template="{{ unit_label }}", max_active_tis_per_dagrun=4, pool=glue.CRAWL_POOL, retries=1,
          doc_md="访问一个单位的门户栏目一次, 记录是否打开及耗时。")
    def probe_unit(unit: dict) -> dict:
        ctx = get_current_context()
        ctx["unit_label"] = unit["unit_name"]
        return glue.probe_for_run(ctx, unit)

    probe_unit.expand(unit=prepare_units())


pubwatch_probe()
