"""`pubwatch check` and registry mistakes that are never silently absent (#17.2)."""
import subprocess
import sys
from datetime import date
from pathlib import Path

from pubwatch.check import run_checks
from pubwatch.registry import parse_registry

ROOT = Path(__file__).resolve().parents[1]

UNIT = """  - id: {id}
    name: {name}
    category: department
    contacts: {{leader: {{name: 王, email: w@x.cn}}, staff: {{name: 张, email: z@x.cn}}}}
    {portal}: {{columns: [{{id: gzdt, url: "https://www.example.gov.cn/{id}/gzdt/"}}]}}
"""


def registry_text(*units, notify="[email]"):
    return f"notify:\n  channels: {notify}\nunits:\n" + "".join(UNIT.format(**u) for u in units)


def write(tmp_path, text, name="units.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_typo_names_the_unit_and_the_field_and_exits_1(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PUBWATCH_SMTP", "smtp://gk%40x.cn:pw@smtp.x.cn:465")
    path = write(tmp_path, registry_text({"id": "jyj", "name": "县教育局", "portal": "portal"},
                                         {"id": "czj", "name": "县财政局", "portal": "portl"}))
    problems = run_checks(path, today=date(2026, 6, 1))
    assert len(problems) == 1 and str(problems[0]).startswith("单位 czj(县财政局): portl: 未知字段")
    done = subprocess.run([sys.executable, "-m", "pubwatch", "check", "--registry", str(path), "--today", "2026-06-01"],
                          capture_output=True, text=True, timeout=60,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT / "include"),
                               "AIRFLOW_CONN_PUBWATCH_SMTP": "smtp://gk%40x.cn:pw@smtp.x.cn:465"})
    assert done.returncode == 1 and "czj(县财政局): portl: 未知字段" in done.stdout, done.stderr


def test_yaml_syntax_is_file_line_column_and_a_clean_registry_passes(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PUBWATCH_SMTP", "smtp://gk%40x.cn:pw@smtp.x.cn:465")
    bad = write(tmp_path, "units:\n  - id: jyj\n   name: x\n")
    [problem] = run_checks(bad, today=date(2026, 6, 1))
    assert str(problem).startswith(f"{bad}:3:")
    good = write(tmp_path, registry_text({"id": "jyj", "name": "县教育局", "portal": "portal"}), "good.yaml")
    assert run_checks(good, today=date(2026, 6, 1)) == []


def test_missing_connections_and_next_years_calendar_are_problems(tmp_path, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_PUBWATCH_SMTP", raising=False)
    path = write(tmp_path, registry_text({"id": "jyj", "name": "县教育局", "portal": "portal"},
                                         notify="[email, fax]"))
    lines = [str(p) for p in run_checks(path, today=date(2026, 11, 2))]
    assert any("notify.channels" in x and "fax" in x for x in lines)
    assert any("pubwatch_smtp" in x and "AIRFLOW_CONN_PUBWATCH_SMTP" in x for x in lines)
    assert any("2027年节假日安排尚未录入" in x for x in lines)
    found = [str(p) for p in run_checks(path, today=date(2026, 11, 2),
                                        lookup=lambda cid: {"host": "smtp.x.cn"} if cid == "pubwatch_smtp" else None)]
    assert not any("pubwatch_smtp" in x for x in found)


def test_a_skipped_unit_is_named_for_the_supervisors():
    reg = parse_registry({"units": [{"id": "czj", "name": "县财政局", "category": "department", "portl": {}}]})
    [err] = reg.errors
    assert err.skipped_line.startswith("登记表错误, 本周未监测: 县财政局 (单位 czj) — 字段 portl: 未知字段")


def test_bad_fetch_and_evidence_settings_are_named_before_a_job_starts(tmp_path, monkeypatch):
    """units.yaml `fetch:` / `evidence:` were checked only when a crawl or probe built them."""
    monkeypatch.setenv("AIRFLOW_CONN_PUBWATCH_SMTP", "smtp://gk%40x.cn:pw@smtp.x.cn:465")
    text = ("fetch: {timeout: -3}\nevidence: {probe_timeout: fast}\n"
            + registry_text({"id": "jyj", "name": "县教育局", "portal": "portal"}))
    path = write(tmp_path, text)
    lines = [str(p) for p in run_checks(path, today=date(2026, 6, 1))]
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"{path}: fetch.timeout: ") and "-3" in lines[0]
    assert lines[1].startswith(f"{path}: evidence.probe_timeout: ") and "fast" in lines[1]
