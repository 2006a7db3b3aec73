"""The cadence rules: posts + crawl attempts -> one Verdict per unit x channel x period x rule.

A package (no Airflow):
  * `policy.py` — policies.yaml (`Policies`, `load_policies`, `PolicyError`) and `Policy`, the base
    class of a rule kind, with `kind_of(rule)` (the class behind a verdict's rule name);
  * `engine.py` — facts, verification, proof and judging (`evaluate_unit`, the post / attempt
    windows, streaks);
  * `kinds/` — one file per rule kind: weekly, monthly_quota, staleness, rolling_window, max_gap,
    deadline. A new kind is one more file there (see docs/ARCHITECTURE.md, "Rules: one kind, one file").

`from pubwatch import rules; rules.evaluate_unit(...)` and `from pubwatch.rules import ...` are the
public API, re-exported here.
"""
from __future__ import annotations

from .engine import (EVIDENCE_POSTS, UNIT_SCOPE, Breach, Finding, attempt_window, dedupe_posts, evaluate_unit,
                     lookback_days, needs_escalation, post_window, streak)
from .policy import (DEFAULT_POLICIES_PATH, MAX_POLICY_INT, POLICY_KINDS, CountPolicy, Policies,
                     Policy, PolicyError, SilencePolicy, UnitPolicies, all_kinds, deep_merge, kind_of, load_policies,
                     register_policy, unregister_policy)
from . import kinds  # noqa: E402  (imports, so registers, every kind)
from .kinds.max_gap import MaxGapPolicy  # noqa: E402
from .kinds.monthly_quota import MonthlyQuotaPolicy  # noqa: E402
from .kinds.rolling_window import RollingWindowPolicy  # noqa: E402
from .kinds.staleness import StalenessPolicy  # noqa: E402
from .kinds.weekly import WeeklyPolicy  # noqa: E402

__all__ = [
    "DEFAULT_POLICIES_PATH", "EVIDENCE_POSTS", "MAX_POLICY_INT", "POLICY_KINDS", "UNIT_SCOPE",
    "Breach", "CountPolicy", "Finding", "MaxGapPolicy", "MonthlyQuotaPolicy", "Policies", "Policy", "PolicyError",
    "RollingWindowPolicy", "SilencePolicy", "StalenessPolicy", "UnitPolicies", "WeeklyPolicy", "attempt_window",
    "all_kinds", "dedupe_posts", "kinds", "deep_merge", "evaluate_unit", "kind_of", "load_policies", "lookback_days",
    "needs_escalation", "post_window", "register_policy", "streak", "unregister_policy",
]
