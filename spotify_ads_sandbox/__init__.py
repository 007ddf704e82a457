"""A local Spotify Ads sandbox: Accounts (OAuth 2.0), Ads API v3 audiences and GCS uploads.

The sandbox is an independent implementation of the contract that the product speaks, served
over HTTP on a loopback address, so the whole flow (log in, upload a hashed customer list,
create or replace a custom audience, poll it) runs on a laptop and in tests. It shares no code
with the client package.

Usage::

    from spotify_ads_sandbox import Sandbox, SandboxConfig

    with Sandbox(SandboxConfig(processing_seconds=0), host="127.0.0.1", port=0) as sb:
        env = sb.env()  # SPOTIFY_ADS_API_URL, SPOTIFY_ACCOUNTS_URL, SPOTIFY_CLIENT_ID, ...
        ...             # run the client against env
        sb.audience_members(audience_id)  # {("EMAIL_ID_SHA256", "<64 hex>"), ...}

``python -m spotify_ads_sandbox [--host 127.0.0.1] [--port 8765]`` serves in the foreground,
prints ``export NAME=value`` lines once it listens and stops on Ctrl-C or SIGTERM.
:func:`serve_forever` does the same for the product's command line. Only loopback hosts are
accepted (``127.0.0.1``, ``::1``, or a name that resolves only to loopback addresses).

Layout of the served URL space::

    /authorize, /authorize/       Accounts consent step (auto-approved)
    /api/token                    Accounts token endpoint
    /ads/v3/...                   Ads API v3 audience endpoints
    /gcs/<bucket>/<object>?X-Goog-...   signed URL (resumable upload start)
    /gcs/upload/resumable?upload_id=... resumable session URI
    /_sandbox/...                 control endpoints (see below)

Default credentials (published on purpose; they only open the sandbox): client id
``5a4db0c5a4db0c5a4db0c5a4db0c5a4d``, client secret ``5ec2e75a4db0c5ec2e75a4db0c5ec2e7``,
refresh token ``AQSandbox-refresh-token-for-the-local-spotify-ads-sandbox``, ad account
``5ad0b0c5-a4db-40c5-8a4d-b0c5a4db0c5a``. ``f0bdd0e0-0000-4000-8000-00000000f0bd`` is an ad
account that exists but that the user may not access.

Decisions where Spotify's public material is silent
====================================================

Accounts
--------
- Token endpoint client authentication: ``Authorization: Basic`` (preferred), or
  ``client_id`` + ``client_secret`` in the form body, or a public PKCE client sending only
  ``client_id`` (and ``code_verifier`` for a code). A bad client or secret answers **401**
  ``invalid_client`` with ``WWW-Authenticate: Basic``. A body that is not
  ``application/x-www-form-urlencoded`` answers 400 ``invalid_request``.
- Error descriptions follow what Spotify is seen to send: ``grant_type parameter is missing``
  (``unsupported_grant_type``), ``Invalid refresh token``, ``Invalid authorization code``,
  ``Invalid redirect URI``, ``code_verifier was incorrect`` (all ``invalid_grant``),
  ``Invalid client`` / ``Invalid client secret`` (``invalid_client``).
- A refresh answer omits ``refresh_token`` unless ``rotate_refresh_token`` is set; then it
  carries a new token and the presented one is revoked. ``scope`` is always ``""``.
- Refresh tokens expire ``refresh_token_lifetime`` (180 days) after the user's authorization;
  refreshing, even with rotation, does not extend that. Expired: ``invalid_grant`` "Refresh token
  expired"; revoked: "Refresh token revoked". ``SandboxConfig.refresh_token_status``,
  ``Sandbox.expire_refresh_token()``/``revoke_refresh_token()`` and
  ``POST /_sandbox/refresh_tokens`` set that state by hand.
- A refresh token issued from a PKCE exchange may be refreshed without a secret; any other
  needs client authentication (401 ``invalid_client`` otherwise).
- ``/authorize`` answers as if the user clicked Agree (``authorize_outcome="deny"``: as if they
  cancelled, ``error=access_denied``). An unknown ``client_id`` or a refused ``redirect_uri``
  gets a 400 HTML page and no redirect; with a good redirect URI, a ``response_type`` other than
  ``code`` redirects with ``error=unsupported_response_type``, and bad PKCE parameters (method
  other than ``S256``, or a challenge that is not 43 base64url characters) with
  ``error=invalid_request``. ``state`` is echoed on every redirect. ``scope`` and
  ``show_dialog`` are accepted and ignored.
- Redirect URIs: registered loopback entries (default ``http://127.0.0.1/callback`` and
  ``http://[::1]/callback``) match any port, as RFC 8252 asks; ``localhost`` is refused with a
  hint to use ``127.0.0.1``; other URIs must be ``https`` and registered exactly; fragments are
  refused.
- Authorization codes are single use, live ``authorization_code_ttl`` (600 s), and are bound to
  the client, the redirect URI and the PKCE challenge. Any exchange attempt burns the code, even a
  failed one. A missing verifier for a PKCE code is ``invalid_request`` "code_verifier required".
  A public client redeeming a code that had no challenge gets 401 ``invalid_client``.

Ads API
-------
- Check order: access token (401) -> rate limit (429) -> route (404/405) -> path UUIDs (400)
  -> ad account (403/404) -> body (400). Every answer under ``/ads/v3`` carries the
  ``X-RateLimit-*`` headers, 401s and 400s included.
- 401 messages (Web API wording): ``No token provided``, ``Invalid access token``,
  ``The access token expired``; with ``WWW-Authenticate: Bearer``.
- Ad accounts: ``ad_account_id`` and ``other_ad_account_ids`` are accessible; the ids in
  ``forbidden_ad_account_ids`` answer 403 ``PERMISSION.AD_ACCOUNT_ACCESS_DENIED``; any other
  well-formed id answers 404 ``NOT_FOUND.AD_ACCOUNT``. Audiences and uploads belong to one ad
  account; reached through another, they are "not found".
- Error codes used (dotted upper case): ``AUTHENTICATION.MISSING_ACCESS_TOKEN``,
  ``AUTHENTICATION.INVALID_ACCESS_TOKEN``, ``AUTHENTICATION.ACCESS_TOKEN_EXPIRED``,
  ``RATE_LIMIT.EXCEEDED``, ``VALIDATION.INVALID_PATH_PARAMETER``,
  ``VALIDATION.INVALID_QUERY_PARAMETER``, ``VALIDATION.INVALID_BODY``,
  ``VALIDATION.MISSING_FIELD``, ``VALIDATION.INVALID_FIELD``, ``AUDIENCE.UPLOAD_NOT_FOUND``,
  ``AUDIENCE.UPLOAD_FOR_REPLACEMENT``, ``AUDIENCE.UPLOAD_ALREADY_USED``,
  ``AUDIENCE.UPLOAD_NOT_COMPLETED``, ``AUDIENCE.INVALID_FILE``, ``SANDBOX.NOT_IMPLEMENTED``,
  ``PERMISSION.AD_ACCOUNT_ACCESS_DENIED``, ``NOT_FOUND.AD_ACCOUNT``, ``NOT_FOUND.AUDIENCE``,
  ``NOT_FOUND.RESOURCE``, ``REQUEST.METHOD_NOT_ALLOWED``, ``REQUEST.BODY_TOO_LARGE``,
  ``CONFLICT.AUDIENCE_IN_USE``, and for injected faults ``SERVER.INTERNAL_ERROR``,
  ``SERVER.BAD_GATEWAY``, ``SERVER.SERVICE_UNAVAILABLE``, ``SERVER.GATEWAY_TIMEOUT``,
  ``SANDBOX.INJECTED_FAULT``. Validation reports every field error of a body at once, one
  message and one code per problem.
- Create: the sandbox implements customer lists only. ``LOOKALIKE`` and the subtypes
  ``WEB_EVENT``, ``AD_ENGAGEMENT`` and ``LIVERAMP`` are validated as the schema says and then
  answered 400 ``SANDBOX.NOT_IMPLEMENTED``. ``subtype`` is required for ``CUSTOM`` (the schema
  leaves it optional). For ``CUSTOMER_LIST``, ``audience_id`` is required and must name a
  ``new``-mode upload of the same ad account whose file is complete, valid and not used yet; the
  audience's ``id`` is that upload id. Unknown body fields are ignored; names need not be
  unique.
- ``AudienceResponse``: ``type`` ``CUSTOM``, ``subtype`` ``CUSTOMER_LIST``, ``sources``
  ``["CUSTOMER_LIST"]``, ``audience_category`` ``CUSTOM``; ``description`` only when set.
- Status: ``PROCESSING`` for ``processing_seconds`` after a create or a completed replacement
  (the create answer always says ``PROCESSING`` with size ``{0, 0}``), then ``BOOKABLE``, or
  ``EMPTY`` when no identifier matched. ``LIVE`` is set by hand (``Sandbox.set_audience_live``
  or ``POST /_sandbox/audiences/{id}/live``), standing in for an ad set that targets the
  audience. ``ARCHIVED`` and ``LEARNING`` never occur. Status changes are computed when read and
  do not move ``updated_at``; a PATCH and a completed replacement do.
- Size: a simulated match decides, per hash and deterministically, whether Spotify "knows" it:
  its first byte is below ``round(match_rate * 256)`` (``match_rate`` 0.6 by default). The
  matched count ``m`` shows as the band ``[floor(m / step) * step, that + step]`` with
  ``step = max(100, 10 ** (digits(m) - 1))``, e.g. 720 -> 700..800, 61 234 -> 60 000..70 000.
  Identifiers are counted per row (per non-empty cell in the wide layout); duplicates count.
  While a replacement is processed, the previous size is shown.
- List: ``q`` is a case-insensitive substring match on the name, where ``*`` matches any run of
  characters; ``audience_ids`` and ``audience_types`` may repeat or be comma-separated;
  ``paging.page_size`` is the limit, ``paging.current_page`` is ``offset // limit + 1``; NAME
  sorts case-insensitively; ties keep creation/edit order.
- PATCH: ``audience_type`` is required and must be the audience's type (``CUSTOM``); only
  ``name`` and ``description`` change (``null`` leaves a field as it is); other fields are
  ignored.
- DELETE: 200 ``{"deletion_count": 1}``, 409 ``CONFLICT.AUDIENCE_IN_USE`` while LIVE, 404 when
  unknown. The list file is deleted with the audience.
- Rate limit: a fixed window of ``rate_limit_window`` seconds (30) per client id, starting at
  its first request; requests without a valid token count per remote address. Over
  ``rate_limit`` (1500), the answer is 429 with ``Retry-After`` equal to ``X-RateLimit-Reset``
  (whole seconds to the end of the window) and nothing is processed.

Upload URLs and the GCS host
----------------------------
- ``upload_url`` is ``<sandbox>/gcs/spotify-ads-sandbox-audience-uploads/customer-lists/
  <ad account>/<upload id>.csv`` with V4-style query parameters. The signature is an HMAC over
  method, path and all other query parameters, so any edit of the URL breaks it; the URL lives
  ``upload_url_ttl`` (3600 s).
- The signed URL only starts resumable uploads: ``POST``, ``x-goog-resumable: start``,
  ``Content-Type: text/csv`` exactly, empty body. A bad signature, another method (a plain PUT
  of the pre-2026 flow included), a missing ``x-goog-resumable`` or another content type answer
  403 ``SignatureDoesNotMatch`` (these headers are signed); an expired URL answers 403
  ``ExpiredToken``; an ``Authorization`` header or a body answers 400 ``InvalidArgument``. Each
  POST opens a new session (201, ``Location``).
- Session URIs refuse an ``Authorization`` header too (400): the Spotify bearer token must never
  reach the storage host. ``PUT`` without ``Content-Range`` (or ``bytes 0-N-1/N``) is the whole
  file; ``bytes S-E/*`` or ``bytes S-E/T`` with ``E + 1 < T`` is an intermediate chunk whose size
  must be a multiple of 262 144 bytes; ``bytes S-E/T`` with ``E + 1 = T`` is the last chunk.
  ``S`` past the persisted size is 400; bytes before it are re-sent bytes and are ignored.
  ``bytes */T`` or ``bytes */*`` with an empty body asks for the status: 308 with
  ``Range: bytes=0-<last>`` (no ``Range`` while nothing is persisted), or 200 once complete;
  ``bytes */T`` also completes an upload whose ``T`` bytes are all persisted. Chunked transfer
  coding is accepted.
- Completion answers 200 with a small ``storage#object`` JSON document, whether or not the file
  then passes validation (GCS accepts the object; Spotify's checks come after). Any later PUT to
  a completed session answers 200 again.
- When a connection breaks mid-body, exactly the bytes that arrived are persisted (no rounding
  to 256 KiB). ``DELETE`` on a session cancels it (499); it then answers 410. Unknown, expired
  (``upload_session_ttl``, 7 days) and fault-removed sessions answer 404 ``NoSuchUpload``.
- Several sessions may complete for one upload; the last completed file wins, as an object
  overwrite would. Completing a file for an upload whose audience exists (a replacement, or a
  ``new`` upload already used by a create) replaces that audience's list when the file is
  valid; an invalid file leaves the list untouched and only shows in ``uploads()`` and the
  state document (the API has no way to report it).
- Bytes live on disk in a private temporary directory (or ``data_dir``): partial session files,
  the active file of each audience, and valid finished uploads no create has used yet. Invalid
  files are deleted once their report is recorded; everything goes on ``stop()``.

List files
----------
Validated in one streaming pass (fast path for well-formed long-layout blocks):

- UTF-8; a leading BOM, CRLF line ends, blank lines and double-quoted cells are accepted; a line
  may hold at most 4096 bytes.
- Header: ``type,value`` (case-insensitive, spaces trimmed), or the wide layout, a header made
  only of distinct ``EMAIL_ID_SHA256`` / ``PHONE_NUMBER_SHA256`` / ``DEVICE_ID_SHA256`` columns
  whose cells may be empty.
- Long rows: exactly two cells, the type spelled exactly as above; every value exactly 64
  lower-case hexadecimal characters.
- At least ``min_identifiers`` (1000) identifiers and at most ``max_file_bytes`` (1 GiB).
- Only the first problem is reported, with its line number. The report records counts per type,
  the SHA-256 of the file bytes and its size.

Faults
------
``Sandbox.inject(rule | [rules])`` or ``POST /_sandbox/faults`` with a JSON rule or list::

    {"kind": "...", "method": "POST", "path": "<regex searched in the path>",
     "times": 1, "skip": 0, ...parameters}

``method`` and ``path`` are optional filters (the path has no query string; ``/_sandbox/``
requests never match). For each request, the first pending rule that matches decides: if its
``skip`` is not yet spent, the request passes untouched and ``skip`` drops by one; otherwise the
rule fires and ``times`` drops by one (the rule goes at 0; ``"times": null`` fires until
cleared). Kinds and parameters:

- ``status`` (``status`` 400-599, optional ``message``, ``retry_after``, ``headers``): answer
  without processing, with the Spotify error body (``X-RateLimit-*`` included) under
  ``/ads/v3``, a GCS XML error under ``/gcs/``, an RFC 6749 body on the Accounts paths.
  ``headers`` (an object of names to one-line values) replaces same-named headers of that
  answer, e.g. ``{"X-RateLimit-Reset": "600"}`` on a 503.
- ``rate_limit`` (``retry_after``, default 1): 429 with ``Retry-After``, ``X-RateLimit-Reset``
  equal to it and ``X-RateLimit-Remaining: 0``, without processing.
- ``unauthorized``: 401 and every access token issued so far becomes invalid.
- ``invalid_grant`` (``reason`` ``expired``/``revoked``, ``persist``): ``POST /api/token``
  answers 400 ``invalid_grant``; with ``persist`` the presented refresh token keeps that state.
- ``delay`` (``seconds``): sleep, then handle the request normally.
- ``commit_then_drop``: handle the request fully, then close the connection without an answer.
- ``drop_after_bytes`` (``bytes``; session PUTs only): persist that many body bytes, then reset
  the connection (a shorter body is handled fully, then the connection is reset).
- ``session_gone`` (session requests only): the session is deleted as the request arrives, so
  this request and every later one on it answer 404.
- ``no_progress`` (session PUTs only): the body is read and thrown away, and the answer is 308
  with the ``Range`` the session held before (none while it holds nothing), as a storage host
  that keeps accepting chunks without persisting them would answer.
- ``redirect`` (``location``, a URL; ``status`` 301, 302, 303, 307 or 308, default 307):
  answer that redirect without processing the request.
- ``raw`` (``body``, a string; ``status`` 200-599, default 200; ``content_type``, default
  ``text/html; charset=utf-8``): answer exactly that without processing, e.g. an HTML error
  page from a proxy, or ``[]`` where a JSON object is expected.

The sandbox never sleeps except for ``delay``.

Control endpoints
-----------------
``GET /_sandbox/state`` (audiences: id, name, status, size, identifier counts by type, file
sha256 and bytes, ...; uploads as ``Sandbox.uploads()``), ``GET /_sandbox/requests``,
``GET /_sandbox/audiences/{id}/file`` (the active file), ``GET|POST|DELETE /_sandbox/faults``,
``POST /_sandbox/reset``, ``POST /_sandbox/audiences/{id}/live`` (``{"live": true}``),
``POST /_sandbox/refresh_tokens`` (``{"state": "valid"|"expired"|"revoked",
"refresh_token": optional}``). They need no token, are never rate limited nor logged.

``reset()`` forgets audiences, uploads, files, faults, the request log, rate windows, codes and
refresh tokens (the configured one returns to its configured state); access tokens already
issued stay valid. The request log holds method, path without query, status (``None`` when the
connection was dropped) and the fault kind that fired. The sandbox never logs tokens, secrets,
signed URLs or session ids.
"""

from .config import (
    DEFAULT_AD_ACCOUNT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_FORBIDDEN_AD_ACCOUNT_ID,
    DEFAULT_PORT,
    DEFAULT_REFRESH_TOKEN,
    SandboxConfig,
)
from .server import Sandbox, export_lines, serve_forever

__all__ = [
    "DEFAULT_AD_ACCOUNT_ID",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_FORBIDDEN_AD_ACCOUNT_ID",
    "DEFAULT_PORT",
    "DEFAULT_REFRESH_TOKEN",
    "Sandbox",
    "SandboxConfig",
    "export_lines",
    "serve_forever",
]
