"""The unit registry: the demo registry loads; each bad entry is a clear error and the rest go on."""
import copy

import pytest
import yaml

from pubwatch.registry import default_registry_path, load_registry, parse_registry

GOOD = {
    "id": "jyj", "name": "县教育局", "category": "department",
    "contacts": {"leader": {"name": "王建国", "email": "a@x.gov.cn"}, "staff": {"name": "张丽", "mobile": "13800000010"}},
    "portal": {"columns": [{"id": "gzdt", "name": "工作动态", "url": "https://www.example.gov.cn/jyj/gzdt/"}]},
    "wechat": {"account": "县教育局", "sources": [{"type": "rss", "url": "https://rss.example.cn/feeds/jyj.xml"}]},
}


def unit(**changes):
    u = copy.deepcopy(GOOD)
    for k, v in changes.items():
        if v is None:
            u.pop(k, None)
        else:
            u[k] = v
    return u


def test_demo_registry_loads_without_errors(demo_registry):
    assert demo_registry.errors == []
    assert len(demo_registry.units) >= 12
    cats = {u.category for u in demo_registry.units}
    assert {"department", "town"} <= cats
    for u in demo_registry.units:
        assert u.contact("leader") and u.contact("staff")
        assert u.sources_of("portal"), u.id
        assert all(s.url.startswith("http://127.0.0.1") for s in u.sources_of("portal"))


def test_default_registry_is_the_demo_file():
    assert default_registry_path().name == "units.yaml"
    data = yaml.safe_load(default_registry_path().read_text(encoding="utf-8"))
    assert len(data["units"]) >= 12


@pytest.mark.parametrize("bad, field, words", [
    (unit(id="Bad Id"), "id", "id"),
    (unit(category="bureau"), "category", "department"),
    (unit(contacts={"leader": {"name": "王"}, "staff": {"name": "张", "email": "z@x.cn"}}), "contacts.leader", "email"),
    (unit(contacts=None), "contacts", "联系人"),
    (unit(portal={"columns": [{"id": "gzdt", "url": "ftp://example.gov.cn/list"}]}), "portal.columns[0].url", "ftp"),
    (unit(portal={"columns": [{"id": "gzdt", "url": "file:///etc/passwd"}]}), "portal.columns[0].url", "file"),
    (unit(portal={"columns": [{"id": "gzdt", "url": "not a url"}]}), "portal.columns[0].url", "http"),
    (unit(portal={"columns": [{"id": "gzdt", "url": "https://a.cn/", "colour": "red"}]}), "portal.columns[0].colour", "未知字段"),
    (unit(wechat={"account": "x", "sources": [{"type": "wechat_api"}]}), "wechat.sources[0].conn_id", "连接"),
    (unit(hobby="x"), "hobby", "未知字段"),
    (unit(start_date="next week"), "start_date", "YYYY-MM-DD"),
    (unit(portal=None, wechat=None), "portal/wechat", "至少"),
])
def test_bad_entry_names_unit_and_field_and_others_still_load(bad, field, words):
    other = unit(id="mzj", name="县民政局")
    reg = parse_registry({"units": [bad, other]})
    assert [u.id for u in reg.units] == ["mzj"]
    assert len(reg.errors) == 1
    err = reg.errors[0]
    assert err.field == field
    assert words in err.message
    assert str(err).startswith("单位 ")


def test_duplicate_ids_keep_the_first_and_report_the_second():
    reg = parse_registry({"units": [unit(), unit(name="县教育局二")]})
    assert [u.name for u in reg.units] == ["县教育局"]
    assert reg.errors[0].unit == "jyj" and reg.errors[0].field == "id"


def test_env_expansion_and_source_ids(monkeypatch):
    monkeypatch.setenv("BASE", "http://127.0.0.1:9")
    reg = parse_registry({"units": [unit(portal={"columns": [{"id": "gzdt", "url": "${BASE}/a/"}]})]})
    src = reg.units[0].sources_of("portal")[0]
    assert src.url == "http://127.0.0.1:9/a/"
    assert src.id == "jyj.portal.gzdt"
    assert reg.units[0].sources_of("wechat")[0].id == "jyj.wechat.rss"


def test_registry_file_errors_are_clear(tmp_path):
    p = tmp_path / "units.yaml"
    p.write_text("units: 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="units"):
        load_registry(p)
