"""Every DAG imports without errors, is documented for supervisors, and does no heavy work at parse time."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow_home")
    os.environ.setdefault("AIRFLOW_HOME", str(home))
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"pubwatch_weekly", "pubwatch_crawl", "pubwatch_probe", "pubwatch_periodic"} <= set(dagbag.dag_ids)


@pytest.mark.parametrize("dag_id", ["pubwatch_weekly", "pubwatch_crawl", "pubwatch_probe", "pubwatch_periodic"])
def test_dag_is_documented_owned_and_retried(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.doc_md and "做什么" in dag.doc_md      # Chinese text for supervisors
    assert "pubwatch" in dag.tags
    assert dag.catchup is False
    for t in dag.tasks:
        assert t.owner == "政务公开办", t.task_id
        assert t.retries >= 1, t.task_id
        assert t.doc_md, f"{t.task_id} has no doc_md"


def test_crawl_tasks_are_labelled_with_the_unit_name(dagbag):
    for dag_id, task_id in (("pubwatch_weekly", "crawl_unit"), ("pubwatch_crawl", "crawl_unit"),
                            ("pubwatch_probe", "probe_unit")):
        task = dagbag.dags[dag_id].get_task(task_id)
        assert task.map_index_template == "{{ unit_label }}"


def test_weekly_runs_on_the_reminder_day_the_crawl_twice_a_day(dagbag):
    tt = dagbag.dags["pubwatch_weekly"].timetable
    assert type(tt).__name__ == "ReminderDayTimetable"
    assert tt.summary == tt.description == "每周提醒日 09:00 (北京时间)"
    crawl = dagbag.dags["pubwatch_crawl"].timetable
    assert "30 6,17 * * *" in crawl.summary and "Shanghai" in repr(crawl.__dict__)


def test_the_crawl_sends_the_early_warnings_after_crawling(dagbag):
    dag = dagbag.dags["pubwatch_crawl"]
    task = dag.get_task("early_warnings")
    assert task.upstream_task_ids == {"crawl_unit"} and task.trigger_rule == "all_done"
    assert dag.params["send"] is False and dag.params["dry_run"] is False


def test_params_validate(dagbag):
    params = dagbag.dags["pubwatch_weekly"].params
    assert params["send"] is False and params["dry_run"] is False
    import copy

    bad = copy.deepcopy(params)
    with pytest.raises(Exception):
        bad["period"] = "last week"
        bad.validate()
    good = copy.deepcopy(params)
    good["period"] = "2026-W47"
    good["units"] = ["县教育局"]
    good.validate()


@pytest.mark.parametrize("units, period", [(None, None), ([], ""), ([""], "  "), (["县教育局", ""], None)])
def test_the_trigger_form_submits_with_blank_fields(dagbag, units, period):
    """The Airflow 3 form sends null for a field left blank (and marks a field required unless its
    type includes "null"); the REST API may send [] / "". All mean: all units, the run's own weeks."""
    import copy
    import pubwatch_glue as glue

    params = copy.deepcopy(dagbag.dags["pubwatch_weekly"].params)
    for name in ("units", "period"):
        assert "null" in params.get_param(name).schema["type"]      # not required in the form
    params["units"], params["period"] = units, period
    resolved = params.validate()
    assert glue.selected_units(resolved) == (["县教育局"] if units and "县教育局" in units else None)
    assert glue.selected_period(resolved) is None
    assert glue.selected_period({"period": " 2026-W47 "}) == "2026-W47"
    defaults = copy.deepcopy(dagbag.dags["pubwatch_weekly"].params).validate()
    assert defaults["units"] is None and defaults["period"] is None


def test_dag_files_do_no_heavy_work_at_parse_time():
    """Parsing a DAG file must not touch the tracking DB, the registry or the network."""
    code = ("import sys, time; sys.path.insert(0, %r); t = time.perf_counter();"
            "import pubwatch_weekly, pubwatch_crawl, pubwatch_probe, pubwatch_periodic; "
            "heavy = [m for m in ('pubwatch.store', 'pubwatch.crawl', 'requests', 'sqlalchemy.orm', 'lxml') if m in sys.modules];"
            "print(heavy)") % str(DAGS)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "include")})
    assert out.returncode == 0, out.stderr
    loaded = out.stdout.strip().splitlines()[-1]
    assert "pubwatch.store" not in loaded and "pubwatch.crawl" not in loaded, loaded


def test_library_imports_no_airflow():
    code = ("import sys; import pubwatch.jobs, pubwatch.cli, pubwatch.store, pubwatch.rules, pubwatch.registry;"
            "print([m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "include")})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
