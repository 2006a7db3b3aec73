"""The rule-kind seam (#18): a kind is one class; defining it makes it available by name in
policies, and the circular, the board and the notices take its label and sentences from it."""
from datetime import timedelta

import pytest
from pydantic import Field

from pubwatch import report_data, rules
from pubwatch.notices import render
from pubwatch.registry import COLUMN_TYPES
from pubwatch.rules import Policies, PolicyError, evaluate_unit
from pubwatch.rules.engine import Finding
from pubwatch.types import PORTAL, Status, Verdict
from tests.test_rules import CAL, W47, all_ok, at, make_unit, post


@pytest.fixture
def title_kind():
    """A kind defined here, in one class and nothing else: ≥ N posts whose title has a word."""

    class TitleWordPolicy(rules.CountPolicy, kind="title_word_test"):
        label = "标题关键词发文"
        sentence = "每周至少发布{n}条含关键词的信息"
        order = 50
        class Options(rules.CountPolicy.Options):        # its options, checked by pydantic
            word: str = Field("教育", min_length=1)

        @classmethod
        def sentence_of(cls, v):
            return cls.sentence.format(n=v.required)

        @classmethod
        def ask(cls, v, word):
            return f"应发布含关键词的信息不少于{v.required}条，{word}{v.count}条"

        def findings(self, facts):
            out = []
            for channel in self.channels:
                sources = self.sources(facts.unit, channel)
                if not sources:
                    continue
                f = self.count_finding(facts, self.kind, channel, sources, self.min_posts)
                hits = [p for p in facts.channel_posts[channel] if self.options.word in p.title
                        and facts.start <= p.published < facts.check_point]
                out.append(Finding(self.kind, channel, f.subject, f"本周含关键词发文{len(hits)}篇", len(hits),
                                   self.min_posts, len(hits) >= self.min_posts, sources, {}, deadline=facts.period.end))
            return out

    yield TitleWordPolicy
    rules.unregister_policy("title_word_test")


def test_a_kind_defined_in_one_class_is_available_by_name(title_kind):
    assert rules.POLICY_KINDS["title_word_test"] is title_kind
    assert rules.kind_of("title_word_test") is title_kind
    policies = Policies({"defaults": {"edu": {"kind": "title_word_test", "word": "教育", "channels": [PORTAL]}}})
    u = make_unit()
    posts = [post("jyj.portal.gzdt", at(2026, 11, 18), title="教育工作会议"),
             post("jyj.portal.gzdt", at(2026, 11, 19), title="其他动态")]
    vs = evaluate_unit(u, W47, posts, all_ok(u, at(2026, 11, 23, 9)), as_of=at(2026, 11, 23, 12),
                       policies=policies, calendar=CAL)
    assert [(v.rule, v.channel, v.status, v.count) for v in vs] == [("title_word_test", PORTAL, Status.MET, 1)]
    # its options are validated by the class
    with pytest.raises(PolicyError, match="策略 edu: 字段 word: 不能为空"):
        Policies({"defaults": {"edu": {"kind": "title_word_test", "word": ""}}})
    with pytest.raises(PolicyError, match="策略 edu: 字段 wrod: 未知字段 .*word"):   # a typo lists the kind's fields
        Policies({"defaults": {"edu": {"kind": "title_word_test", "wrod": "教育"}}})
    with pytest.raises(PolicyError, match="title_word_test"):      # listed among the kinds for a typo
        Policies({"defaults": {"edu": {"kind": "title_word_tset"}}})


def test_circular_board_and_notices_use_the_kinds_own_words(title_kind):
    v = Verdict("jyj", PORTAL, "2026-W47", "title_word_test", Status.MISSED, count=0, required=2,
                reason="本周含关键词发文0篇", deadline=W47.end)
    assert report_data.rule_label(v.rule) == "标题关键词发文"
    assert render.rule_label(v.rule) == "标题关键词发文"
    weekly = Verdict("jyj", PORTAL, "2026-W47", "weekly", Status.MISSED, count=0, required=1, reason="")
    assert report_data.rule_sentences([v, weekly]) == ["原则上一个星期不低于一条工作动态", "每周至少发布2条含关键词的信息"]
    item = render.verdict_item(v)
    assert item["rule_label"] == "标题关键词发文"
    assert item["ask"] == "应发布含关键词的信息不少于2条，实际0条"


def test_a_kind_name_cannot_be_claimed_twice(title_kind):
    with pytest.raises(ValueError, match="already"):
        class Other(rules.CountPolicy, kind="title_word_test"):
            pass


def test_shipped_kinds_keep_their_labels_and_sentences():
    labels = {r: report_data.rule_label(r) for r in ("weekly", "monthly_quota", "rolling_window", "max_gap",
                                                   "staleness:wechat", "staleness:news", "staleness:notice",
                                                   "topic_quota:tpgj", "no_such_rule")}
    assert labels == {"weekly": "每周更新", "monthly_quota": "月度报送数量", "rolling_window": "连续未更新天数",
                      "max_gap": "最长更新间隔", "staleness:wechat": "公众号更新时效",
                      "staleness:news": f"栏目更新时效({COLUMN_TYPES['news']})",
                      "staleness:notice": f"栏目更新时效({COLUMN_TYPES['notice']})",
                      "topic_quota:tpgj": "专题栏目报送(tpgj)", "no_such_rule": "no_such_rule"}
    vs = [Verdict("u", PORTAL, "2026-W47", "max_gap", Status.MISSED, count=20, required=14, reason="",
                  evidence={"gap_unit": "days"}),
          Verdict("u", PORTAL, "2026-W47", "staleness:news", Status.MISSED, count=0, required=1, reason="",
                  evidence={"max_age": "14天"}),
          Verdict("u", PORTAL, "2026-W47", "rolling_window", Status.MISSED, count=0, required=1, reason="",
                  evidence={"days": 10, "gap_unit": "working_days"}),
          Verdict("u", PORTAL, "2026-11", "topic_quota:tpgj", Status.MISSED, count=0, required=1, reason=""),
          Verdict("u", "unit", "2026-11", "monthly_quota", Status.MISSED, count=0, required=10, reason=""),
          Verdict("u", PORTAL, "2026-W47", "weekly", Status.MISSED, count=0, required=1, reason="")]
    assert report_data.rule_sentences(vs) == ["原则上一个星期不低于一条工作动态", "每月至少报送规定条数的信息",
                                           "保证每10个工作日内都能更新信息", "监测时间点前14天内应有信息更新",
                                           "更新间隔时间不得超过14天"]


def test_lookback_is_declared_by_each_kind():
    pol = Policies({"defaults": {"rolling_window": {"kind": "rolling_window", "days": 10},
                                 "max_gap": {"kind": "max_gap", "max_days": 14, "period": "week"}}})
    assert rules.lookback_days(pol, "week", windowed_only=True) == 14 + 31 + 31
    assert rules.lookback_days(pol, "week") == 730
    assert rules.post_window(W47, pol)[0] == W47.start_dt - timedelta(days=730)
