"""`python -m pubwatch …` for admins and scripts.

Subcommands that belong to one module are delegated to it (`module:function(argv) -> int`), so each
module owns its CLI contract and this file stays a table.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from datetime import datetime

DELEGATED = {
    "calendar": ("pubwatch.workdays", "cli_calendar", "China working-day calendar for the week of DATE (JSON)"),
    "parse-list": ("pubwatch.sources.portal.listing", "cli_parse_list", "parse a saved portal list page (JSON lines)"),
    "parse-feed": ("pubwatch.sources.wechat.rss", "cli_parse_feed", "parse a saved RSS/Atom feed (JSON lines)"),
    "notices": ("pubwatch.notices.admin", "cli_notices", "list unconfirmed notices; confirm or resend one by id"),
    "check": ("pubwatch.check", "cli_check", "validate registry, policies, calendar and connections (exit 1 on problems)"),
}


def _delegate(name: str, argv: list[str]) -> int:
    module, func, _ = DELEGATED[name]
    return int(getattr(importlib.import_module(module), func)(argv) or 0)


def _cmd_db(args) -> int:
    from .store import upgrade

    upgrade(args.db_url)
    print("tracking DB is at the newest schema")
    return 0


def _cmd_demo_serve(args) -> int:
    import signal
    import time

    from .demo import DemoPortal
    from .types import TZ

    as_of = datetime.fromisoformat(args.as_of).astimezone(TZ) if args.as_of else None
    portal = DemoPortal(as_of=as_of, port=args.port).start()
    if args.env_file:
        with open(args.env_file, "w") as fh:
            for k, v in portal.env().items():
                fh.write(f"{k}={v}\n")
    print(f"demo portal on {portal.base_url} (demo week of {portal.as_of:%Y-%m-%d %H:%M %Z})", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, SystemExit):
        portal.stop()
    return 0


def _cmd_crawl(args) -> int:
    from .jobs import Runtime, crawl, prepare

    rt = Runtime(args.db_url, args.registry)
    units = prepare(rt, args.units)["units"]
    fetcher = rt.fetcher()
    try:
        for u in units:
            print(crawl(rt, u["unit_id"], fetcher=fetcher, run_id="cli")["summary"])
    finally:
        fetcher.close()
    return 0


def _cmd_evaluate(args) -> int:
    from .jobs import Runtime, in_force, prepare
    from .jobs import evaluate as run_eval
    from .periods import Period
    from .types import CHANNEL_LABELS, STATUS_LABELS

    period = Period.parse(args.period)  # a bad period fails (exit 2) before the DB is migrated or touched
    as_of = _as_of(args.as_of) if args.as_of else None
    rt = Runtime(args.db_url, args.registry)
    prepare(rt, args.units)
    if as_of is not None:
        return _print_as_known(rt, args, as_of)
    if period.kind in ("quarter", "year"):
        # A quarter / year is judged through its weeks and months: recompute them all from the store.
        from .ranking import periods_within

        for inner in periods_within(period)[1:]:
            run_eval(rt, inner.key, unit_ids=args.units)
    verdicts = run_eval(rt, args.period, unit_ids=args.units)
    verdicts = in_force(rt, period, verdicts)        # 人工复核 (#20): what is in force, as the job steps report
    names = {u.id: u.name for u in rt.registry.units}
    if args.json:
        for v in verdicts:
            print(json.dumps({"unit": v.unit_id, "channel": v.channel, "period": v.period, "rule": v.rule,
                              "status": v.status.value, "count": v.count, "required": v.required,
                              "reason": v.reason}, ensure_ascii=False))
        return 0
    print(f"{'单位':<14}{'渠道':<8}{'规则':<18}{'状态':<8}{'数量':>6}  说明")
    for v in verdicts:
        print(f"{names.get(v.unit_id, v.unit_id):<14}{CHANNEL_LABELS.get(v.channel, v.channel):<8}"
              f"{v.rule:<18}{STATUS_LABELS[v.status]:<8}{v.count:>3}/{v.required:<3} {v.reason}")
    if period.kind in ("month", "quarter", "year") and not args.units:
        from .ranking import ranking

        print()
        _print_ranking(ranking(rt.store, rt.registry.units, rt.policies, period), "得分与分类排名 (含期内各周、各月结果)")
    return 0


def _as_of(text: str) -> datetime:
    from .types import TZ

    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--as-of 应为 ISO 时间, 如 2026-11-20T09:00+08:00: {text}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=TZ)   # naive: Beijing time


def _print_as_known(rt, args, as_of: datetime) -> int:
    """`evaluate --as-of`: the period as the stored data stood at that moment; nothing is saved."""
    from .jobs import evaluate_as_known
    from .types import CHANNEL_LABELS, STATUS_LABELS, TZ

    verdicts = evaluate_as_known(rt, args.period, as_of, unit_ids=args.units)
    stamp = as_of.astimezone(TZ).isoformat()
    if args.json:
        for v in verdicts:
            print(json.dumps({"unit": v.unit_id, "channel": v.channel, "period": v.period, "rule": v.rule,
                              "status": v.status.value, "status_label": STATUS_LABELS[v.status],
                              "count": v.count, "required": v.required, "reason": v.reason, "as_of": stamp},
                             ensure_ascii=False))
        return 0
    names = {u.id: u.name for u in rt.registry.units}
    print(f"截至 {as_of.astimezone(TZ):%Y-%m-%d %H:%M} 已掌握的数据 (重新核算, 不改动已保存的结果)")
    print(f"{'单位':<14}{'渠道':<8}{'规则':<18}{'状态':<8}{'数量':>6}  说明")
    for v in verdicts:
        print(f"{names.get(v.unit_id, v.unit_id):<14}{CHANNEL_LABELS.get(v.channel, v.channel):<8}"
              f"{v.rule:<18}{STATUS_LABELS[v.status]:<8}{v.count:>3}/{v.required:<3} {v.reason}")
    return 0


def _cmd_report(args) -> int:
    from pathlib import Path

    from .report_data import NotEvaluated, require_final_evaluation, write_period_files
    from .jobs import Runtime
    from .periods import Period

    period = Period.parse(args.period)
    rt = Runtime(args.db_url, args.registry)
    try:
        try:
            require_final_evaluation(rt.store, period)
        except NotEvaluated as exc:
            print(f"错误: {exc}", file=sys.stderr)
            return 1
        paths = write_period_files(rt.store, rt.registry, rt.policies, period, formats=[args.format],
                                   out=Path(args.out) if args.out else None, serial=args.serial)
    finally:
        rt.close()
    for p in paths:
        print(p)
    return 0


def _print_ranking(result: dict, title: str) -> None:
    print(f"{result['label']} {title}")
    for r in result["rows"]:
        print(f"  {r['category_label']:<6} 第{r['rank']:>2}名  {r['name']:<12} 得分 {r['score']:+.1f}  {r['posts_text']}")


def _cmd_ranking(args) -> int:
    from pathlib import Path

    from .jobs import Runtime
    from .ranking import ranking, write_ranking_xlsx

    from .periods import Period

    rt = Runtime(args.db_url, args.registry)
    try:
        result = ranking(rt.store, rt.registry.units, rt.policies, Period.parse(args.period))
    finally:
        rt.close()
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        _print_ranking(result, "排名 (按类别)")
    if args.xlsx:
        print(write_ranking_xlsx(result, Path(args.xlsx)))
    return 0


def _cmd_review(args) -> int:
    """人工复核 (#20): record a supervisor's review of a verdict, or list the trail."""
    from .jobs import Runtime
    from .reviews import (ReviewError, channel_label, correction_line, current_reviews, default_reviewer,
                          find_unit, period_word, record_review, review_history)
    from .types import STATUS_LABELS, TZ

    rt = Runtime(args.db_url, args.registry)
    try:
        names = {u.id: u.name for u in rt.registry.units}
        if args.list:
            unit_id = None
            if args.unit:
                try:
                    unit_id = find_unit(rt.registry, args.unit).id
                except ReviewError as exc:
                    print(f"错误: {exc}", file=sys.stderr)
                    return 1
            trail = review_history(rt.store, unit_id, args.period)
            if not trail:
                print("没有人工复核记录")
                return 0
            in_force = {r.id for r in current_reviews(rt.store, args.period, [unit_id] if unit_id else None).values()}
            for r in trail:
                state = "生效" if r.id in in_force else "已被取代"
                before = STATUS_LABELS[r.previous_status] if r.previous_status else "—"
                print(f"#{r.id}\t{r.created_at.astimezone(TZ):%Y-%m-%d %H:%M}\t{names.get(r.unit_id, r.unit_id)}\t"
                      f"{period_word(r.period)} ({r.period})\t{channel_label(r.channel)}\t{r.rule}\t"
                      f"{before}→{STATUS_LABELS[r.status]}\t{state}\t复核人 {r.reviewer}\t理由: {r.reason}"
                      + (f"\t证据: {r.evidence_url}" if r.evidence_url else ""))
            return 0
        missing = [f"--{n}" for n in ("unit", "period", "channel", "status", "reason")
                   if not getattr(args, n)]
        if missing:
            print(f"错误: 记录复核需要 {' '.join(missing)} (查看记录用 --list)", file=sys.stderr)
            return 1
        try:
            r = record_review(rt.store, rt.registry, unit_id=args.unit, period=args.period, channel=args.channel,
                              status=args.status, reason=args.reason, reviewer=args.by or default_reviewer(),
                              rule=args.rule, evidence_url=args.url, published=args.date)
        except ReviewError as exc:
            print(f"错误: {exc}", file=sys.stderr)
            return 1
        print(f"已记录人工复核 #{r.id}: {correction_line(r, names.get(r.unit_id, r.unit_id))} (复核人 {r.reviewer})")
        if r.evidence_url and r.status.value == "met":
            print(f"证据发文 {r.evidence_url} 已登记 (人工补录), 计入其所在周期; 已结束的月份/季度请重新评估后生效, "
                  f"如: pubwatch evaluate --period {r.period}")
        return 0
    finally:
        rt.close()


def _cmd_pools(args) -> int:
    """Print one Airflow pool per portal host (so workers never hammer one site)."""
    from .jobs import Runtime
    from .pools import pools_for

    rt = Runtime(args.db_url, args.registry)
    for name, slots, desc in pools_for(rt.registry):
        print(f"airflow pools set {name} {slots} '{desc}'")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pubwatch", description="pubwatch admin commands")
    p.add_argument("--db-url", help="tracking DB URL (default: $PUBWATCH_DB_URL or var/pubwatch.db)")
    p.add_argument("--registry", help="units.yaml path (default: $PUBWATCH_REGISTRY or include/units.yaml)")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, (_, _, help_text) in DELEGATED.items():
        sub.add_parser(name, help=help_text, add_help=False)
    db = sub.add_parser("db", help="tracking DB migrations")
    db.add_argument("action", choices=["upgrade"])
    db.set_defaults(func=_cmd_db)
    demo = sub.add_parser("demo-serve", help="serve the bundled demo portal on 127.0.0.1")
    demo.add_argument("--port", type=int, default=0)
    demo.add_argument("--as-of", help="demo reference time (default: the most recent Friday 09:00 CST)")
    demo.add_argument("--env-file", help="write PUBWATCH_DEMO_* variables here once listening")
    demo.set_defaults(func=_cmd_demo_serve)
    cr = sub.add_parser("crawl", help="crawl units now (outside Airflow)")
    cr.add_argument("--units", nargs="*")
    cr.set_defaults(func=_cmd_crawl)
    ev = sub.add_parser("evaluate", help="evaluate a period from stored posts: 2026-W47, 2026-11, 2026-Q4, 2026")
    ev.add_argument("--period", required=True)
    ev.add_argument("--units", nargs="*")
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--as-of", dest="as_of",
                    help="ISO time (naive = Beijing time): the period as the stored data stood then — posts "
                         "first seen and crawls started by that moment; prints only, saves nothing")
    ev.set_defaults(func=_cmd_evaluate)
    rp = sub.add_parser("report", help="write the period's circular (.docx) or full table (.xlsx)")
    rp.add_argument("--period", required=True)
    rp.add_argument("--format", choices=["docx", "xlsx"], default="docx")
    rp.add_argument("--out")
    rp.add_argument("--serial", help="the 文号's serial (e.g. 12 -> 某政办〔2026〕12号); default: the registry's "
                                     "office.doc_serial, else blank to fill in by hand")
    rp.set_defaults(func=_cmd_report)
    rk = sub.add_parser("ranking", help="scores, rankings by category and post totals (2026-11, 2026-Q4, 2026)")
    rk.add_argument("--period", required=True)
    rk.add_argument("--json", action="store_true")
    rk.add_argument("--xlsx", help="also write the ranking table here")
    rk.set_defaults(func=_cmd_ranking)
    rv = sub.add_parser("review", help="人工复核: set a verdict to met/missed/exempt with a reason; --list: the trail")
    rv.add_argument("--list", action="store_true", help="list the reviews (of --period, of --unit), oldest first")
    rv.add_argument("--unit", help="unit id (or its exact name)")
    rv.add_argument("--period", help="2026-W47, 2026-11, 2026-Q4, 2026")
    rv.add_argument("--channel", help="portal | wechat | unit (a rule over both channels)")
    rv.add_argument("--status", help="met | missed | exempt (达标 / 未达标 / 免检)")
    rv.add_argument("--reason", help="why (required; kept in the trail and shown on the board and the summary)")
    rv.add_argument("--url", help="evidence URL (http/https); with --status met the post is stored and counts")
    rv.add_argument("--date", help="the evidence post's publication date (default: the period's last day, or today)")
    rv.add_argument("--rule", default="weekly", help="the verdict's rule (default weekly)")
    rv.add_argument("--by", help="reviewer (default: the OS user)")
    rv.set_defaults(func=_cmd_review)
    po = sub.add_parser("pools", help="print `airflow pools set` commands, one pool per portal host")
    po.set_defaults(func=_cmd_pools)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Delegated subcommands take the rest of the line verbatim (after optional global flags).
    for i, a in enumerate(argv):
        if a in DELEGATED:
            return _delegate(a, argv[i + 1:])
        if not a.startswith("-"):
            break
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
