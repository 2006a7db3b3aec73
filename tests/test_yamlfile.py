"""The office's YAML files: UTF-8 required, size and aliases bounded, errors that name file:line."""
import time

import pytest

from pubwatch import yamlfile
from pubwatch.registry import load_registry
from pubwatch.rules import PolicyError, load_policies

GOOD = "units:\n  - id: jyj\n    name: 县教育局\n"


def test_gbk_registry_names_the_file_and_asks_for_utf8(tmp_path):
    path = tmp_path / "units.yaml"
    path.write_bytes(GOOD.encode("gbk"))
    with pytest.raises(yamlfile.YamlFileError) as info:
        load_registry(path)
    assert str(path) in str(info.value) and "UTF-8" in str(info.value)
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert yamlfile.load(bom)["units"][0]["name"] == "县教育局"       # Notepad's BOM is fine


def test_alias_bomb_is_refused_quickly(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    path = tmp_path / "units.yaml"
    path.write_text("\n".join(lines), encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(yamlfile.YamlFileError) as info:
        yamlfile.load(path)
    assert "alias" in str(info.value) and time.monotonic() - started < 5
    ok = tmp_path / "anchors.yaml"                    # ordinary anchors and merges still work
    ok.write_text("defaults: &d {category: town}\nunits:\n  - {<<: *d, id: dz}\n", encoding="utf-8")
    assert yamlfile.load(ok)["units"][0]["category"] == "town"


def test_syntax_error_names_file_line_and_column(tmp_path):
    path = tmp_path / "units.yaml"
    path.write_text("units:\n  - id: jyj\n   name: bad indent\n", encoding="utf-8")
    with pytest.raises(yamlfile.YamlFileError) as info:
        yamlfile.load(path)
    assert f"{path}:3:" in str(info.value)


def test_oversized_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(yamlfile, "MAX_BYTES", 100)
    path = tmp_path / "units.yaml"
    path.write_text(GOOD * 10, encoding="utf-8")
    with pytest.raises(yamlfile.YamlFileError, match="过大"):
        yamlfile.load(path)


def test_policies_file_errors_are_policy_errors(tmp_path):
    path = tmp_path / "policies.yaml"
    path.write_bytes("settings:\n  escalate_after: 2  # 连续两周\n".encode("gbk"))
    with pytest.raises(PolicyError) as info:
        load_policies(path)
    assert str(path) in str(info.value) and "UTF-8" in str(info.value)


@pytest.mark.parametrize("policy, field", [
    ({"weekly": {"kind": "weekly", "min_posts": 0}}, "min_posts"),
    ({"weekly": {"kind": "weekly", "warn_lead_days": 1_000_000_000}}, "warn_lead_days"),
    ({"weekly": {"kind": "weekly", "warn_lead_days": 7}}, "warn_lead_days"),          # not shorter than a week
    ({"quota": {"kind": "monthly_quota", "min_posts": 10**9}}, "min_posts"),
    ({"rolling_window": {"kind": "rolling_window", "enabled": True, "days": 10, "warn_lead_days": 10}},
     "warn_lead_days"),
    ({"max_gap": {"kind": "max_gap", "enabled": True, "max_days": 14, "warn_lead_days": 20}}, "warn_lead_days"),
])
def test_policy_values_are_bounded(policy, field):
    """min_posts ≥ 1, warning leads shorter than what they warn about, no absurd numbers (#19.4)."""
    from pubwatch.rules import Policies

    with pytest.raises(PolicyError) as info:
        Policies({"defaults": policy})
    assert info.value.field == field
