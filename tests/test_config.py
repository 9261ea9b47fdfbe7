from __future__ import annotations

from pathlib import Path

import pytest

from ecauto import config
from ecauto.config import ConfigError


def test_defaults_when_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECAUTO_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    cfg = config.load()
    assert cfg.mode == "sandbox"
    assert cfg.spapi.limits["getPricing"] == config.Limit(0.5, 1)
    assert cfg.spapi.limits["getItemOffersBatch"] == config.Limit(0.1, 1)
    assert cfg.base.hourly_limit == 5000
    assert cfg.sync.interval_s == 10800 and cfg.daemon.beat_s == 10


def test_the_repo_config_loads() -> None:
    cfg = config.load(Path(__file__).parent.parent / "ecauto.toml")
    assert cfg.mode == "sandbox" and set(cfg.upload) == {"base", "ebay", "yahoo"}


def test_a_named_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        config.load(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"mode": "prod"}, 'mode must be "sandbox" or "live", got \'prod\''),
        (
            {"sync": {"interval_s": -1}},
            "sync.interval_s must be a number greater than 0 and at most 604800, got -1",
        ),
        ({"sync": {"interval_s": float("inf")}}, "sync.interval_s must be a number greater"),
        ({"watchdog": {"interval_s": float("nan")}}, "at most 3600, got nan"),
        ({"daemon": {"beat_s": 1e400}}, "daemon.beat_s must be a number greater"),
        ({"sandbox": {"seed": -1}}, "sandbox.seed must be a whole number from 0 to"),
        ({"upload": {"base": {"hourly_cap": 10**30}}}, "upload.base.hourly_cap must be"),
        ({"sync": {"interval_s": True}}, "sync.interval_s must be a number greater than 0"),
        ({"upload": {"base": {"hourly_capp": 1}}}, "unknown key 'upload.base.hourly_capp'"),
        ({"upload": {"amazon": {}}}, "unknown key 'upload.amazon'"),
        (
            {"spapi": {"limits": {"getPricing": {"burst": 1.5}}}},
            "spapi.limits.getPricing.burst must be a whole number from 1 to 1000000, got 1.5",
        ),
        ({"spapi": {"batch_size": 21}}, "spapi.batch_size must be a whole number from 1 to 20"),
        ({"sandbox": {"port": "8765"}}, "sandbox.port must be a whole number from 0 to 65535"),
        ({"sandbox": 3}, "sandbox must be a table"),
        ({"colour": "blue"}, "unknown key 'colour'"),
    ],
)
def test_bad_values_give_one_line_naming_the_key(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        config.parse(data)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_broken_file_is_one_line(tmp_path: Path) -> None:
    p = tmp_path / "ecauto.toml"
    p.write_text("mode = \n")
    with pytest.raises(ConfigError) as e:
        config.load(p)
    assert str(p) in str(e.value) and "cannot read config" in str(e.value)


def test_partial_tables_keep_other_defaults() -> None:
    cfg = config.parse(
        {"upload": {"ebay": {"hourly_cap": 7}}, "spapi": {"limits": {"getPricing": {"rate": 2.0}}}}
    )
    assert cfg.upload["ebay"].hourly_cap == 7 and cfg.upload["base"].hourly_cap == 120
    assert cfg.spapi.limits["getPricing"] == config.Limit(2.0, 1)
    assert cfg.spapi.limits["getItemOffersBatch"] == config.Limit(0.1, 1)


def test_one_setting_switches_every_endpoint_to_live() -> None:
    sandbox = config.parse({})
    assert sandbox.spapi_url() == "http://127.0.0.1:8765"
    assert sandbox.lwa_url() == "http://127.0.0.1:8765/auth/o2/token"
    assert sandbox.base_token_url() == "http://127.0.0.1:8765/1/oauth/token"
    live = config.parse({"mode": "live"})
    assert live.spapi_url() == "https://sellingpartnerapi-fe.amazon.com"
    assert live.lwa_url() == "https://api.amazon.com/auth/o2/token"
    assert live.base_url() == "https://api.thebase.in"
    assert live.upload_url("ebay") == "https://api.ebay.com"
    eu = config.parse({"mode": "live", "spapi": {"region": "eu", "endpoint": ""}})
    assert eu.spapi_url() == "https://sellingpartnerapi-eu.amazon.com"
    custom = config.parse({"mode": "live", "upload": {"yahoo": {"endpoint": "https://y/"}}})
    assert custom.upload_url("yahoo") == "https://y"
