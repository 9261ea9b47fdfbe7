"""Sandbox mode never reads the environment's credentials; live mode needs every one (pure)."""

from __future__ import annotations

import pytest

from ecauto import config
from ecauto.auth import env_credentials

REAL = {
    "BASE_CLIENT_ID": "real-base-client",
    "BASE_CLIENT_SECRET": "real-base-secret",
    "BASE_REFRESH_TOKEN": "real-base-refresh",
    "BASE_REDIRECT_URI": "https://shop.example/cb",
    "EBAY_CLIENT_ID": "real-ebay-client",
    "EBAY_CLIENT_SECRET": "real-ebay-secret",
    "EBAY_REFRESH_TOKEN": "real-ebay-refresh",
}


def test_sandbox_mode_sends_sandbox_values_even_with_real_ones_exported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for k, v in REAL.items():
        monkeypatch.setenv(k, v)
    creds = env_credentials("BASE", sandbox=True, redirect=True)
    assert not set(REAL.values()) & {
        creds.client_id,
        creds.client_secret,
        creds.refresh_token,
        creds.redirect_uri,
    }
    ebay = env_credentials("EBAY", sandbox=True)
    assert not set(REAL.values()) & {ebay.client_id, ebay.client_secret, ebay.refresh_token}
    live = env_credentials("BASE", sandbox=False, redirect=True)
    assert live.refresh_token == "real-base-refresh"
    assert env_credentials("EBAY", sandbox=False).refresh_token == "real-ebay-refresh"


def test_live_mode_names_the_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPAPI_LWA_CLIENT_ID", raising=False)
    with pytest.raises(config.ConfigError, match="SPAPI_LWA_CLIENT_ID is not set"):
        env_credentials("SPAPI_LWA", sandbox=False)
