"""pubwatch_weekly — 每周更新情况检查、提醒与通报 (see doc_md below)."""
from __future__ import annotations

import os
import sys

from airflow.sdk import Param, dag, get_current_context, task

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # glue beside the DAGs
import pubwatch_glue as glue  # noqa: E402

DOC = """
### 每周更新情况检查 (pubwatch_weekly)

**做什么**: 每周 **提醒日 09:00 (北京时间)** 运行一次 — 提醒日是周五; 周五放假则提前到本周之前最后一个工作日;
整周放假 (如春节) 的一周不运行。
1. **抓取** 各单位门户网站栏目和微信公众号 (每个单位一个任务, 任务名即单位名);
2. **评估** 上周 (已结束) 和本周 (截至运行时) 是否达到 "每周至少更新1条" 等规则;
3. **提醒/通报**: 给本周尚未更新的单位发 **提醒**, 给上周未达标的单位发 **通报**, 连续多周未达标的抄送
   **分管领导**, 并给督查人员发 **汇总**;
4. **通报文件**: 生成上周的 Word 通报和 Excel 明细 (在 `var/reports/`)。

月度条数等规则的 **预警** 由 "每日抓取 (pubwatch_crawl)" 在每个工作日抓取后发出, 不必等到提醒日。

**不会冤枉单位**: 网站打不开、被防火墙拦截、页面改版时, 结果是 "无法核实", 不是 "未达标"。

**手动运行 / 补跑**: 点 "Trigger" 填写参数, 不填的参数留空即可 (留空 = 全部单位 / 按运行时间的周)。
手动运行和补跑 (backfill) **默认不发送**, 只写入发件箱 (`var/outbox/`) 供预览; 需要发送时勾选 `send`。
`dry_run` 永远不发送。每条通知每个单位每期只发一次。补跑 N 周 = N 次运行 (每周提醒日一次)。
"""

PARAMS = {
    # "null" in the type makes a field optional in the Airflow 3 trigger form (a blank field is sent as
    # null); pubwatch_glue.selected_units / selected_period read null, [] and "" as "all" / "current".
    "units": Param(None, type=["null", "array"], items={"type": "string"},
                   title="单位", description="只检查这些单位 (单位 id 或名称, 如 县教育局, 每行一个); 留空 = 全部单位"),
    "period": Param(None, type=["null", "string"], pattern=r"^\s*(\d{4}-W\d{2})?\s*$", title="检查周",
                    description="要检查的周, 如 2026-W47; 留空 = 按运行时间 (上周 + 本周)"),
    "crawl": Param(True, type="boolean", title="先抓取",
                   description="先抓取最新内容; 补跑历史周时自动跳过, 只用已保存的数据"),
    "send": Param(False, type="boolean", title="发送通知",
                  description="手动运行/补跑时是否真正发送 (计划运行总是发送)"),
    "dry_run": Param(False, type="boolean", title="演练", description="只生成发件箱文件, 不发送任何通知"),
}


@dag(**glue.dag_args("pubwatch_weekly", "每周更新检查与通报", glue.weekly_timetable(), DOC, params=PARAMS))
def pubwatch_weekly():
    @task(doc_md="读取单位登记表, 校验并同步到数据库; 登记表中有错误的单位会被跳过并在日志中说明原因。")
    def prepare_units() -> list[dict]:
        return glue.prepare_for_run(get_current_context())

    @task(map_index_template="{{ unit_label }}", max_active_tis_per_dagrun=4, pool=glue.CRAWL_POOL,
          doc_md="抓取一个单位的门户栏目和公众号, 保存新文章和每次抓取的结果。")
    def crawl_unit(unit: dict) -> dict:
        ctx = get_current_context()
        ctx["unit_label"] = unit["unit_name"]
        return glue.crawl_for_run(ctx, unit)

    @task(doc_md="按规则评估上周 (已结束) 和本周 (截至运行时间), 结果保存到数据库。", trigger_rule="all_done")
    def evaluate(crawled: list[dict]) -> dict:
        ctx = get_current_context()
        return glue.evaluate_for_run(ctx, glue.as_of(ctx))

    @task(doc_md="生成提醒、通报、升级和汇总通知; 按运行类型决定是否真正发送 (每条通知只发一次)。")
    def send_notices(files: list[str]) -> dict:
        ctx = get_current_context()
        return glue.notify_for_run(ctx, glue.as_of(ctx), files)

    @task(doc_md="生成上周的 Word 通报和 Excel 明细表。")
    def write_circular(evaluation: dict) -> list[str]:
        ctx = get_current_context()
        return glue.circular_for_run(ctx, evaluation)

    @task(trigger_rule="all_done", doc_md="本次运行的总结: 各单位结果、无法核实的单位及原因、失败的任务。")
    def run_summary(crawled: list[dict], evaluation: dict, notices: dict, files: list[str]) -> dict:
        return glue.summarize_run(get_current_context(), crawled, evaluation, notices, files)

    units = prepare_units()
    crawled = crawl_unit.expand(unit=units)
    evaluation = evaluate(crawled)
    files = write_circular(evaluation)
    notices = send_notices(files)
    run_summary(crawled, evaluation, notices, files)


pubwatch_weekly()
