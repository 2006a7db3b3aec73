"""pubwatch_periodic — 月度/季度/年度通报与排名 (see doc_md below)."""
from __future__ import annotations

import os
import sys

from airflow.sdk import dag, get_current_context, task

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # glue beside the DAGs
import pubwatch_glue as glue  # noqa: E402

DOC = """
### 月度/季度/年度通报与排名 (pubwatch_periodic)

**做什么**: 每月1日 09:30 (北京时间), 用已保存的数据评估上个月 (月度报送数量等规则); 3、6、9、12月结束时
同时评估该季度, 12月结束时评估全年。生成该期的 Word 通报、Excel 明细和 **分类排名表** (县直部门、乡镇分别排名,
含得分和 "发文X篇" 统计), 保存在 `var/reports/`。

**补跑**: 对过去的月份补跑 (backfill) 只用已保存的数据重新计算, 不重新抓取, 不发送通知。
"""


@dag(**glue.dag_args("pubwatch_periodic", "月度/季度/年度通报与排名", "30 9 1 * *", DOC))
def pubwatch_periodic():
    @task(doc_md="评估上月 (及结束的季度/年度), 生成通报文件和分类排名表。")
    def reports() -> dict:
        return glue.periodic_for_run(get_current_context())

    reports()


pubwatch_periodic()
