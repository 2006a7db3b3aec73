"""`python -m pubwatch notices …`: a person decides what the wire left open.

    notices list [--period P] [--all]   unconfirmed notices (or every notice of the period)
    notices confirm ID [--note TEXT]    it arrived: counts as sent, never resent
    notices resend ID [--note TEXT]     it did not arrive: the next run sends it again

A notice is *unconfirmed* when a send may have reached its recipients but no confirmation came (the
SMTP connection dropped after DATA, a robot answered late or with a 5xx, a crash mid-send).
"""
from __future__ import annotations

import argparse
import sys

from .channels import channel_label
from .ledger import STATUS_LABELS, Ledger, kind_label


def cli_notices(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m pubwatch notices", description=__doc__.split("\n\n")[0])
    p.add_argument("--db-url", help="tracking DB URL (default: $PUBWATCH_DB_URL or var/pubwatch.db)")
    sub = p.add_subparsers(dest="action", required=True)
    ls = sub.add_parser("list", help="unconfirmed notices (with --all: every notice of --period)")
    ls.add_argument("--period")
    ls.add_argument("--all", action="store_true")
    for name, text in (("confirm", "the notice arrived: count it as sent"),
                       ("resend", "the notice did not arrive: the next run sends it again")):
        one = sub.add_parser(name, help=text)
        one.add_argument("id", type=int)
        one.add_argument("--note", default="", help="who checked, and how (kept in the ledger)")
    args = p.parse_args(argv)

    from ..store import Store

    store = Store(args.db_url)
    try:
        ledger = Ledger(store)
        if args.action == "list":
            if args.all:
                rows = ledger.rows(period=args.period)
            else:
                rows = ledger.unconfirmed(periods=[args.period] if args.period else None)
            if not rows:
                print("没有待人工确认的通知" if not args.all else "没有通知")
            for n in rows:
                print(f"{n.id}\t{n.period}\t{n.unit_id}\t{kind_label(n.kind)}\t{channel_label(n.channel)}\t"
                      f"{STATUS_LABELS.get(n.status, n.status)}\t{(n.last_error or n.receipt or '')[:160]}")
            return 0
        try:
            row = (ledger.confirm if args.action == "confirm" else ledger.resend)(args.id, args.note)
        except (KeyError, ValueError) as exc:
            print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
            return 2
        print(f"通知 {row.id} ({row.unit_id} {row.period} {kind_label(row.kind)} {row.channel}): "
              f"{STATUS_LABELS.get(row.status, row.status)}")
        return 0
    finally:
        store.close()
