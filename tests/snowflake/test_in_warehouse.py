"""The request of a procedure call or post-hook: validated before anything runs."""

from __future__ import annotations

import pytest

from spotify_audiences.config import SpotifySettings
from spotify_audiences.errors import ConfigError
from spotify_audiences.in_warehouse import SyncFailedError, SyncRequest


def test_options_map_to_the_core_sync_options():
    request = SyncRequest.parse(
        "Night Owls",
        {
            "min_identifiers": 1500,
            "max_bytes": 1024,
            "audience_ids": {"Night Owls": "3222bb9e-941d-4b8a-8ac1-c00abd232e3d"},
            "force": True,
            "timeout": 30,
            "dry_run": True,
            "raise_on_failure": False,
        },
    )
    assert request.audiences == ["Night Owls"]
    assert request.options.min_identifiers == 1500
    assert request.options.max_file_bytes == 1024
    assert request.options.force is True
    assert request.options.audience_ids == {"Night Owls": "3222bb9e-941d-4b8a-8ac1-c00abd232e3d"}
    assert (request.timeout, request.dry_run, request.raise_on_failure) == (30.0, True, False)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"min_identifers": 5}, "Unknown sync option(s): min_identifers"),
        ({"min_identifiers": "5"}, "min_identifiers must be a int"),
        ({"min_identifiers": True}, "min_identifiers must be a int"),
        ({"dry_run": "yes"}, "dry_run must be a bool"),
    ],
)
def test_a_bad_option_is_refused_with_its_name(options, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SyncRequest.parse(None, options)


def test_endpoint_overrides_are_checked_like_the_environment():
    settings = SpotifySettings(ad_account_id="5ad0b0c5-a4db-40c5-8a4d-b0c5a4db0c5a")
    local = SyncRequest.parse(None, {"ads_api_url": "http://127.0.0.1:9/ads/v3/"})
    assert local.with_endpoints(settings).ads_api_url == "http://127.0.0.1:9/ads/v3"
    remote = SyncRequest.parse(None, {"accounts_url": "http://accounts.example.com"})
    with pytest.raises(ConfigError, match="https"):
        remote.with_endpoints(settings)


def test_the_failure_names_each_failed_audience_and_carries_the_summary():
    results = [
        {"audience_name": "A", "action": "created", "error": None, "exit_code": 0},
        {
            "audience_name": "B",
            "action": "refused",
            "error": "Guard min_identifiers",
            "exit_code": 3,
        },
    ]
    error = SyncFailedError(results)
    assert "1 of 2 audiences did not sync: 'B' refused: Guard min_identifiers" in str(error)
    assert '"audience_name": "A"' in str(error)
    assert error.exit_code == 3
