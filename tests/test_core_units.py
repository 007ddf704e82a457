"""Plain unit tests for the pure parts of the core package."""

from __future__ import annotations

import hashlib
import logging

import pytest

from spotify_audiences.config import (
    ProjectConfig,
    Secret,
    SpotifySettings,
    check_endpoint,
    validate_audience_name,
)
from spotify_audiences.errors import ConfigError, WarehouseError
from spotify_audiences.export import write_audience_csv
from spotify_audiences.logs import RedactingFilter, redact
from spotify_audiences.transport import RetryPolicy, server_wait
from spotify_audiences.upload import validate_chunk_size

ACCOUNT = "ce4ff15e-f04d-48b9-9ddf-fb3c85fbd57a"
FULL_ENV = {
    "SPOTIFY_CLIENT_ID": "client",
    "SPOTIFY_CLIENT_SECRET": "secret-value",
    "SPOTIFY_REFRESH_TOKEN": "refresh-value",
    "SPOTIFY_AD_ACCOUNT_ID": ACCOUNT,
}


def test_settings_from_env_defaults_to_spotify():
    settings = SpotifySettings.from_env(FULL_ENV).validated()
    assert settings.ads_api_url == "https://api-partner.spotify.com/ads/v3"
    assert settings.accounts_url == "https://accounts.spotify.com"
    assert "secret-value" not in repr(settings)
    assert "refresh-value" not in repr(settings)


@pytest.mark.parametrize("missing", ["SPOTIFY_CLIENT_ID", "SPOTIFY_REFRESH_TOKEN"])
def test_missing_credential_names_the_variable(missing):
    env = {k: v for k, v in FULL_ENV.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        SpotifySettings.from_env(env).validated()


def test_client_secret_is_optional_for_pkce_apps():
    env = {k: v for k, v in FULL_ENV.items() if k != "SPOTIFY_CLIENT_SECRET"}
    assert SpotifySettings.from_env(env).validated().client_secret is None


@pytest.mark.parametrize("account", ["", "123", ACCOUNT.replace("-", ""), ACCOUNT + "0"])
def test_ad_account_must_be_a_uuid(account):
    with pytest.raises(ConfigError, match="SPOTIFY_AD_ACCOUNT_ID"):
        SpotifySettings.from_env({**FULL_ENV, "SPOTIFY_AD_ACCOUNT_ID": account}).validated()


def test_upper_case_ad_account_is_accepted_and_lowered():
    settings = SpotifySettings.from_env({**FULL_ENV, "SPOTIFY_AD_ACCOUNT_ID": ACCOUNT.upper()})
    assert settings.validated().account_id == ACCOUNT


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api-partner.spotify.com/ads/v3", True),
        ("http://127.0.0.1:8787/ads/v3", True),
        ("http://127.9.9.9/x", True),
        ("http://[::1]:80/x", True),
        ("http://localhost:1/x", True),
        ("http://api-partner.spotify.com/ads/v3", False),
        ("http://10.0.0.1/x", False),
        ("ftp://example.com/x", False),
        ("api-partner.spotify.com", False),
    ],
)
def test_only_https_or_loopback(url, ok):
    if ok:
        assert check_endpoint(url, what="x") == url
    else:
        with pytest.raises(ConfigError, match="https"):
            check_endpoint(url, what="x")


@pytest.mark.parametrize(
    ("name", "ok"), [("A", False), ("AB", True), ("x" * 80, True), ("x" * 81, False)]
)
def test_audience_name_length(name, ok):
    if ok:
        assert validate_audience_name(name) == name
    else:
        with pytest.raises(ConfigError, match="2 to 80"):
            validate_audience_name(name)


def test_secret_never_shows_itself():
    secret = Secret("hunter2")
    assert (
        "hunter2" not in repr(secret)
        and "hunter2" not in str(secret)
        and "hunter2" not in f"{secret}"
    )
    assert secret.reveal() == "hunter2"


def test_redact_masks_tokens_and_signed_urls():
    text = (
        "Authorization: Bearer abc.def-ghi PUT https://storage.googleapis.com/b/o.csv?"
        "X-Goog-Signature=deadbeef&X-Goog-Expires=900 refresh_token=r123&client_secret=s456"
    )
    masked = redact(text)
    for leaked in ("abc.def-ghi", "deadbeef", "r123", "s456", "X-Goog-Expires=900"):
        assert leaked not in masked
    assert "https://storage.googleapis.com/b/o.csv" in masked


def test_redacting_filter_applies_to_formatted_args():
    record = logging.LogRecord(
        "urllib3", logging.DEBUG, __file__, 1, "%s %s", ("PUT", "http://h/x?sig=1"), None
    )
    RedactingFilter().filter(record)
    assert record.getMessage() == "PUT http://h/x?********"


def test_export_counts_hashes_and_streams(tmp_path):
    h1, h2 = hashlib.sha256(b"a").hexdigest(), hashlib.sha256(b"b").hexdigest()
    batches = [[("EMAIL_ID_SHA256", h1)], [("PHONE_NUMBER_SHA256", h2), ("EMAIL_ID_SHA256", h2)]]
    result = write_audience_csv(iter(batches), tmp_path / "a.csv")
    content = (tmp_path / "a.csv").read_bytes()
    assert (
        content
        == (
            f"type,value\nEMAIL_ID_SHA256,{h1}\nPHONE_NUMBER_SHA256,{h2}\nEMAIL_ID_SHA256,{h2}\n"
        ).encode()
    )
    assert result.counts == {"EMAIL_ID_SHA256": 2, "PHONE_NUMBER_SHA256": 1}
    assert result.bytes == len(content)
    assert result.sha256 == hashlib.sha256(content).hexdigest()


@pytest.mark.parametrize(
    "row",
    [
        ("EMAIL", hashlib.sha256(b"a").hexdigest()),
        ("EMAIL_ID_SHA256", hashlib.sha256(b"a").hexdigest().upper()),
        ("EMAIL_ID_SHA256", "someone@example.com"),
        ("EMAIL_ID_SHA256", None),
    ],
)
def test_export_refuses_rows_that_are_not_hashes(tmp_path, row):
    with pytest.raises(WarehouseError, match="nothing was uploaded"):
        write_audience_csv([[row]], tmp_path / "a.csv")


def test_export_error_does_not_echo_the_raw_value(tmp_path):
    with pytest.raises(WarehouseError) as info:
        write_audience_csv([[("EMAIL_ID_SHA256", "someone@example.com")]], tmp_path / "a.csv")
    assert "someone" not in str(info.value)


def test_server_wait_reads_either_header():
    assert server_wait({"Retry-After": "3"}) == 3
    assert server_wait({"X-RateLimit-Reset": "7"}) == 7
    assert server_wait({"Retry-After": "soon", "X-RateLimit-Reset": "2"}) == 2
    assert server_wait({}) is None


def test_backoff_grows_with_jitter_and_a_cap():
    low = RetryPolicy(base_delay=1, max_delay=10, jitter=0.25, rng=lambda: 0.0)
    high = RetryPolicy(base_delay=1, max_delay=10, jitter=0.25, rng=lambda: 1.0)
    assert [low.backoff(n) for n in (1, 2, 3)] == [0.75, 1.5, 3.0]
    assert [high.backoff(n) for n in (1, 2, 3)] == [1.25, 2.5, 5.0]
    assert high.backoff(10) == 10 and low.backoff(10) == 7.5  # jitter stays under the cap


@pytest.mark.parametrize(
    ("size", "ok"), [(256 * 1024, True), (8 << 20, True), (1000, False), (0, False)]
)
def test_chunk_size_is_a_multiple_of_256_kib(size, ok):
    if ok:
        assert validate_chunk_size(size) == size
    else:
        with pytest.raises(ConfigError, match="256 KiB"):
            validate_chunk_size(size)


OTHER_ACCOUNT = "7b1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"


def test_config_var_takes_a_model_and_an_ad_account_per_audience():
    config = ProjectConfig.from_mapping(
        {
            "defaults": {"min_identifiers": 2000, "ad_account_id": ACCOUNT},
            "audiences": {
                "Lapsed": {"model": "crm_lapsed", "ad_account_id": OTHER_ACCOUNT.upper()},
                "Fans": {"model": "crm_fans"},
            },
        }
    )
    assert config.for_audience("Lapsed").ad_account_id == OTHER_ACCOUNT
    assert config.for_audience("Fans").ad_account_id == ACCOUNT
    assert config.for_audience("Fans").min_identifiers == 2000


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"defaults": {"model": "crm"}}, "defaults: unknown key"),
        ({"defaults": {"audience_id": ACCOUNT}}, "defaults: unknown key"),
        ({"audiences": {"A": {"ad_account_id": "acct-1"}}}, "audiences.A: ad_account_id"),
        ({"audiences": {"A": {"max_shrink": 2}}}, "shares from 0 to 1"),
    ],
)
def test_config_var_errors_name_the_key(raw, message):
    with pytest.raises(ConfigError, match=message):
        ProjectConfig.from_mapping(raw)


def test_the_env_ad_account_is_optional_when_audiences_name_theirs():
    env = {k: v for k, v in FULL_ENV.items() if k != "SPOTIFY_AD_ACCOUNT_ID"}
    assert SpotifySettings.from_env(env).validated(require_account=False).ad_account_id is None
    bad = {**env, "SPOTIFY_AD_ACCOUNT_ID": "nope"}
    with pytest.raises(ConfigError, match="SPOTIFY_AD_ACCOUNT_ID"):
        SpotifySettings.from_env(bad).validated(require_account=False)


def test_build_record_reads_the_failed_tests():
    from spotify_audiences.warehouse import BuildRecord

    record = BuildRecord.from_row(
        {
            "INVOCATION_ID": "abc",
            "TESTS_RUN": 12,
            "TESTS_FAILED": 1,
            "FAILED_TESTS": '[{"name": "not_null_x", "status": "error"}]',
        }
    )
    assert (record.tests_run, record.tests_failed) == (12, 1)
    assert record.failed_tests == [{"name": "not_null_x", "status": "error"}]


@pytest.mark.parametrize(
    ("name", "rendered"),
    [
        ("AUDIENCES", "AUDIENCES"),
        ("spotify_audience_summary", "spotify_audience_summary"),
        ("my-schema", '"my-schema"'),
        ('we"ird', '"we""ird"'),
    ],
)
def test_snowflake_identifiers_render_as_dbt_snowflake_does(name, rendered):
    from spotify_audiences.warehouse import snowflake_quote

    assert snowflake_quote(name) == rendered
