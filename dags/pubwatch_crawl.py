"""pubwatch_crawl — 每日抓取各单位门户栏目和公众号 (see doc_md below)."""
from __future__ import annotations

import os
import sys

from airflow.sdk import Asset, Param, dag, get_current_context, task

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # glue beside the DAGs
import pubwatch_glue as glue  # noqa: E402

DOC = """
### 每日抓取 (pubwatch_crawl)

**做什么**: 每天 06:30 和 17:30 (北京时间) 抓取每个单位的门户网站栏目和微信公众号, 保存新文章,
并记录每次抓取的结果 (正常 / 无法访问 / 被拦截 / 页面改版…)。每个单位一个任务, 任务名即单位名。

**为什么每天抓**: 每周评估时需要证明 "确实没有更新" — 只有抓取成功才能判定未达标;
抓取失败的单位记为 "无法核实"。每天抓取还能记下文章 **首次被发现的时间**, 用来识别补发、倒签日期的文章。

**预警**: 每次抓取后评估本周和本月 (尚未结束的周期), 在 **工作日** 给快到期仍未达标的单位发 **预警**
(如 "本月已报送7条, 要求至少10条"); 每个单位每期每条规则只发一次, 非工作日的预警留到下一个工作日。
每周的提醒、通报和汇总仍由 "每周更新检查与通报 (pubwatch_weekly)" 在提醒日发出。

**礼貌抓取**: 每个网站每秒最多 1 次请求, 遵守 robots.txt, 失败自动重试并退避。

**手动运行 / 补跑**: 计划运行发送预警 (晚于计划时间 6 小时以上则不发); 手动运行和补跑 **默认不发送**,
只写入发件箱 (`var/outbox/`), 需要时勾选 `send`; `dry_run` 永远不发送。
"""

CRAWLED = Asset("pubwatch://posts")

PARAMS = {
    "send": Param(False, type="boolean", title="发送预警",
                  description="手动运行/补跑时是否真正发送预警 (计划运行总是发送)"),
    "dry_run": Param(False, type="boolean", title="演练", description="只生成发件箱文件, 不发送任何通知"),
}


@dag(**glue.dag_args("pubwatch_crawl", "每日抓取", "30 6,17 * * *", DOC, params=PARAMS))
def pubwatch_crawl():
    @task(doc_md="读取单位登记表并同步到数据库; 有错误的条目被跳过并在日志中说明。")
    def prepare_units() -> list[dict]:
        return glue.prepare_for_run(get_current_context())

    @task(map_index_template="{{ unit_label }}", max_active_tis_per_dagrun=4, pool=glue.CRAWL_POOL,
          doc_md="抓取一个单位的门户栏目和公众号。")
    def crawl_unit(unit: dict) -> dict:
        ctx = get_current_context()
        ctx["unit_label"] = unit["unit_name"]
        return glue.crawl_for_run(ctx, unit)

    @task(trigger_rule="all_done", outlets=[CRAWLED], doc_md="汇总本次抓取: 新文章数、抓取失败的数据源及原因。")
    def crawl_summary(crawled: list[dict]) -> dict:
        return glue.summarize_run(get_current_context(), crawled, None, None, [])

    @task(trigger_rule="all_done",
          doc_md="评估本周和本月 (尚未结束的周期), 在工作日发出到期的预警 (每个单位每期每条规则只发一次)。")
    def early_warnings(crawled: list[dict]) -> dict:
        return glue.early_warnings_for_run(get_current_context())

    crawled = crawl_unit.expand(unit=prepare_units())
    crawl_summary(crawled)
    early_warnings(crawled)


pubwatch_crawl()
