"""Ads API v3 audience endpoints, served under ``/ads/v3``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from .gcs import signed_url
from .http_util import MAX_JSON_BODY, Request, Response, json_response, spotify_error
from .store import Audience, RateState, Store

API_PREFIX = "/ads/v3"
AUDIENCE_TYPES = ("CUSTOM", "LOOKALIKE")
AUDIENCE_SUBTYPES = ("CUSTOMER_LIST", "WEB_EVENT", "AD_ENGAGEMENT", "LIVERAMP")
EXPOSURE_TYPES = ("IMPRESSIONS", "CLICKS")
LOOKBACK_DAYS = (30, 60, 90, 180)
SORT_DIRECTIONS = ("ASC", "DESC")
SORT_FIELDS = ("NAME", "UPDATED_AT")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_INTEGER = re.compile(r"-?\d{1,9}")

Error = tuple[str, str]  # (error code, message)


def is_uuid(value: Any) -> bool:
    """Whether ``value`` is a UUID string in its 8-4-4-4-12 hex form."""
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header."""
    header = request.header("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def unauthorized(reason: str) -> Response:
    """The 401 for a missing, invalid or expired access token."""
    message, code = {
        "missing": ("No token provided", "AUTHENTICATION.MISSING_ACCESS_TOKEN"),
        "expired": ("The access token expired", "AUTHENTICATION.ACCESS_TOKEN_EXPIRED"),
    }.get(reason, ("Invalid access token", "AUTHENTICATION.INVALID_ACCESS_TOKEN"))
    return spotify_error(
        401,
        message,
        (code, "Send a valid access token: refresh it at the Accounts token endpoint."),
        [("WWW-Authenticate", 'Bearer realm="spotify", error="invalid_token"')],
    )


def rate_limited(state: RateState, retry_after: int | None = None) -> Response:
    """The 429 answer."""
    wait = state.reset if retry_after is None else retry_after
    return spotify_error(
        429,
        "API rate limit exceeded",
        (
            "RATE_LIMIT.EXCEEDED",
            "Too many requests; retry after the number of seconds in Retry-After "
            "(or X-RateLimit-Reset).",
        ),
        [("Retry-After", str(wait))],
    )


def rate_key(store: Store, request: Request) -> str:
    """Whose rate-limit window a request counts against: its client, else its address."""
    client_id, _ = store.check_access_token(bearer_token(request))
    return f"client:{client_id}" if client_id else f"anonymous:{request.client_host}"


def handle(store: Store, request: Request, base_url: str) -> Response:
    """Authenticate, rate-limit and dispatch one Ads API request."""
    client_id, reason = store.check_access_token(bearer_token(request))
    key = f"client:{client_id}" if client_id else f"anonymous:{request.client_host}"
    rate = store.rate(key)
    if client_id is None:
        request.body.drain()
        response = unauthorized(reason)
    elif not rate.allowed:
        request.body.drain()
        response = rate_limited(rate)
    else:
        response = _route(store, request, base_url)
    return response.with_headers(rate.headers())


def _invalid(messages: list[Error], status: int = 400) -> Response:
    return spotify_error(
        status,
        [message for _, message in messages],
        [(code, message) for code, message in messages],
    )


def _route(store: Store, request: Request, base_url: str) -> Response:
    path = request.path.removeprefix(API_PREFIX)
    for pattern, methods in _ROUTES:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        handler = methods.get(request.method)
        if handler is None:
            request.body.drain()
            response = spotify_error(
                405,
                f"Method {request.method} is not allowed on this resource",
                ("REQUEST.METHOD_NOT_ALLOWED", "Use one of: " + ", ".join(methods)),
            )
            return response.with_headers([("Allow", ", ".join(methods))])
        account_id, *rest = match.groups()
        problem = _check_ids(store, account_id, rest)
        if problem is not None:
            request.body.drain()
            return problem
        return handler(store, request, base_url, account_id.lower(), *[r.lower() for r in rest])
    request.body.drain()
    return spotify_error(
        404, "Resource not found", ("NOT_FOUND.RESOURCE", "The sandbox serves audiences only.")
    )


def _check_ids(store: Store, account_id: str, rest: list[str]) -> Response | None:
    errors: list[Error] = []
    if not is_uuid(account_id):
        errors.append(("VALIDATION.INVALID_PATH_PARAMETER", "ad_account_id must be a UUID"))
    if rest and not is_uuid(rest[0]):
        errors.append(("VALIDATION.INVALID_PATH_PARAMETER", "audience_id must be a UUID"))
    if errors:
        return _invalid(errors)
    account_id = account_id.lower()
    if account_id in store.config.forbidden_ad_account_ids:
        return spotify_error(
            403,
            f"You do not have access to ad account {account_id}",
            (
                "PERMISSION.AD_ACCOUNT_ACCESS_DENIED",
                "Ask an admin of the ad account to grant you audience management permission.",
            ),
        )
    if account_id not in store.config.accessible_ad_account_ids():
        return spotify_error(
            404,
            f"Ad account {account_id} not found",
            ("NOT_FOUND.AD_ACCOUNT", "Check the ad account id in Ads Manager account settings."),
        )
    return None


def _audience_or_404(store: Store, account_id: str, audience_id: str) -> Audience | Response:
    with store.lock:
        audience = store.audiences.get(audience_id)
    if audience is None or audience.ad_account_id != account_id:
        return spotify_error(
            404,
            f"Audience {audience_id} not found in ad account {account_id}",
            ("NOT_FOUND.AUDIENCE", "Check the audience id; it may have been deleted."),
        )
    return audience


def _json_body(request: Request) -> dict[str, Any] | Response:
    raw = request.body.read_all(MAX_JSON_BODY)
    if raw is None:
        return spotify_error(413, "Request body too large", ("REQUEST.BODY_TOO_LARGE", "1 MiB max"))
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        body = None
    if not isinstance(body, dict):
        return _invalid([("VALIDATION.INVALID_BODY", "The request body must be a JSON object")])
    return body


# --- upload URLs ----------------------------------------------------------------------------


def _upload_url(store: Store, request: Request, base_url: str, account_id: str) -> Response:
    request.body.drain()
    upload = store.new_upload(account_id, None)
    return json_response(200, {"id": upload.id, "upload_url": signed_url(store, base_url, upload)})


def _replace_upload_url(
    store: Store, request: Request, base_url: str, account_id: str, audience_id: str
) -> Response:
    request.body.drain()
    audience = _audience_or_404(store, account_id, audience_id)
    if isinstance(audience, Response):
        return audience
    upload = store.new_upload(account_id, audience.id)
    return json_response(200, {"id": upload.id, "upload_url": signed_url(store, base_url, upload)})


# --- create / edit --------------------------------------------------------------------------


def _check_text(body: dict[str, Any], name: str, low: int, high: int, errors: list[Error]) -> None:
    value = body.get(name)
    if value is None:
        return
    if not isinstance(value, str):
        errors.append(("VALIDATION.INVALID_FIELD", f"{name} must be a string"))
    elif not low <= len(value) <= high:
        span = f"between {low} and {high}" if low else f"at most {high}"
        errors.append(("VALIDATION.INVALID_FIELD", f"{name} must be {span} characters long"))


def _check_uuid_list(body: dict[str, Any], name: str, errors: list[Error]) -> None:
    value = body.get(name)
    if value is not None and (not isinstance(value, list) or not all(map(is_uuid, value))):
        errors.append(("VALIDATION.INVALID_FIELD", f"{name} must be an array of UUIDs"))


def _validate_create(body: dict[str, Any]) -> list[Error]:
    errors: list[Error] = []
    audience_type = body.get("audience_type")
    if audience_type is None:
        errors.append(("VALIDATION.MISSING_FIELD", "audience_type is required"))
    elif audience_type not in AUDIENCE_TYPES:
        errors.append(("VALIDATION.INVALID_FIELD", "audience_type must be CUSTOM or LOOKALIKE"))
    if body.get("name") is None:
        errors.append(("VALIDATION.MISSING_FIELD", "name is required"))
    _check_text(body, "name", 2, 80, errors)
    _check_text(body, "description", 0, 80, errors)
    if audience_type == "LOOKALIKE":
        seed = body.get("seed_audience_id")
        if seed is None:
            errors.append(("VALIDATION.MISSING_FIELD", "seed_audience_id is required"))
        elif not is_uuid(seed):
            errors.append(("VALIDATION.INVALID_FIELD", "seed_audience_id must be a UUID"))
        return errors
    if "audience_id" in body and not is_uuid(body["audience_id"]):
        errors.append(("VALIDATION.INVALID_FIELD", "audience_id must be a UUID"))
    subtype = body.get("subtype")
    if subtype is not None and subtype not in AUDIENCE_SUBTYPES:
        errors.append(
            ("VALIDATION.INVALID_FIELD", "subtype must be one of " + ", ".join(AUDIENCE_SUBTYPES))
        )
    for name in ("dataset_ids", "campaign_ids", "ad_set_ids"):
        _check_uuid_list(body, name, errors)
    for name in ("included_events", "excluded_events"):
        value = body.get(name)
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(v, str) for v in value)
        ):
            errors.append(("VALIDATION.INVALID_FIELD", f"{name} must be an array of strings"))
    lookback = body.get("lookback_days")
    if lookback is not None and lookback not in LOOKBACK_DAYS:
        errors.append(("VALIDATION.INVALID_FIELD", "lookback_days must be 30, 60, 90 or 180"))
    exposure = body.get("exposure_type")
    if exposure is not None and exposure not in EXPOSURE_TYPES:
        errors.append(("VALIDATION.INVALID_FIELD", "exposure_type must be IMPRESSIONS or CLICKS"))
    return errors


def _not_in_sandbox(what: str) -> Response:
    return spotify_error(
        400,
        f"{what} audiences are not available in the sandbox; it implements customer lists only "
        "(audience_type CUSTOM, subtype CUSTOMER_LIST)",
        ("SANDBOX.NOT_IMPLEMENTED", "Create a CUSTOM audience with subtype CUSTOMER_LIST."),
    )


def _create(store: Store, request: Request, base_url: str, account_id: str) -> Response:
    body = _json_body(request)
    if isinstance(body, Response):
        return body
    errors = _validate_create(body)
    if errors:
        return _invalid(errors)
    if body["audience_type"] == "LOOKALIKE":
        return _not_in_sandbox("LOOKALIKE")
    subtype = body.get("subtype")
    if subtype is None:
        return _invalid([("VALIDATION.MISSING_FIELD", "subtype is required for CUSTOM audiences")])
    if subtype != "CUSTOMER_LIST":
        return _not_in_sandbox(subtype)
    upload_id = body.get("audience_id")
    if upload_id is None:
        return _invalid(
            [
                (
                    "VALIDATION.MISSING_FIELD",
                    "audience_id (the id returned by the upload_url endpoint) is required "
                    "for CUSTOMER_LIST audiences",
                )
            ]
        )
    audience, code, message = store.create_audience(
        account_id, upload_id.lower(), body["name"], body.get("description")
    )
    if audience is None:
        return _invalid([(code, message)])
    return json_response(201, audience.to_response(store.now(), status="PROCESSING"))


def _get(
    store: Store, request: Request, base_url: str, account_id: str, audience_id: str
) -> Response:
    request.body.drain()
    audience = _audience_or_404(store, account_id, audience_id)
    if isinstance(audience, Response):
        return audience
    with store.lock:
        return json_response(200, audience.to_response(store.now()))


def _edit(
    store: Store, request: Request, base_url: str, account_id: str, audience_id: str
) -> Response:
    body = _json_body(request)
    if isinstance(body, Response):
        return body
    errors: list[Error] = []
    audience_type = body.get("audience_type")
    if audience_type is None:
        errors.append(("VALIDATION.MISSING_FIELD", "audience_type is required"))
    elif audience_type not in AUDIENCE_TYPES:
        errors.append(("VALIDATION.INVALID_FIELD", "audience_type must be CUSTOM or LOOKALIKE"))
    _check_text(body, "name", 2, 80, errors)
    _check_text(body, "description", 0, 80, errors)
    if errors:
        return _invalid(errors)
    audience = _audience_or_404(store, account_id, audience_id)
    if isinstance(audience, Response):
        return audience
    if audience_type != "CUSTOM":
        return _invalid(
            [
                (
                    "VALIDATION.INVALID_FIELD",
                    f"audience_type {audience_type} does not match the audience's type CUSTOM",
                )
            ]
        )
    with store.lock:
        if body.get("name") is not None:
            audience.name = body["name"]
        if body.get("description") is not None:
            audience.description = body["description"]
        store.touch(audience)
        return json_response(200, audience.to_response(store.now()))


def _delete(
    store: Store, request: Request, base_url: str, account_id: str, audience_id: str
) -> Response:
    request.body.drain()
    audience = _audience_or_404(store, account_id, audience_id)
    if isinstance(audience, Response):
        return audience
    with store.lock:
        if audience.live:
            return spotify_error(
                409,
                f"Audience {audience_id} is LIVE (targeted by an ad set) and cannot be deleted",
                (
                    "CONFLICT.AUDIENCE_IN_USE",
                    "Remove the audience from every ad set, then delete it.",
                ),
            )
        store.delete_audience(audience)
    return json_response(200, {"deletion_count": 1})


# --- list -----------------------------------------------------------------------------------


def _parse_int(
    value: str | None, name: str, low: int, high: int | None, default: int, errors: list[Error]
) -> int:
    if value is None:
        return default
    if (
        not _INTEGER.fullmatch(value)
        or int(value) < low
        or (high is not None and int(value) > high)
    ):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        errors.append(("VALIDATION.INVALID_QUERY_PARAMETER", f"{name} must be an integer {bound}"))
        return default
    return int(value)


def _name_filter(q: str) -> Callable[[str], bool]:
    needle = q.casefold()
    if "*" not in needle:
        return lambda name: needle in name.casefold()
    pattern = re.compile(".*".join(re.escape(part) for part in needle.split("*")))
    return lambda name: pattern.search(name.casefold()) is not None


def _list(store: Store, request: Request, base_url: str, account_id: str) -> Response:
    request.body.drain()
    errors: list[Error] = []
    ids: set[str] = set()
    for value in request.query.get("audience_ids", []):
        for part in filter(None, value.split(",")):
            if is_uuid(part):
                ids.add(part.lower())
            else:
                errors.append(("VALIDATION.INVALID_QUERY_PARAMETER", "audience_ids must be UUIDs"))
    types: set[str] = set()
    for value in request.query.get("audience_types", []):
        for part in filter(None, value.split(",")):
            if part in AUDIENCE_TYPES:
                types.add(part)
            else:
                errors.append(
                    (
                        "VALIDATION.INVALID_QUERY_PARAMETER",
                        "audience_types must be CUSTOM or LOOKALIKE",
                    )
                )
    limit = _parse_int(request.query_one("limit"), "limit", 1, 50, 50, errors)
    offset = _parse_int(request.query_one("offset"), "offset", 0, None, 0, errors)
    direction = request.query_one("sort_direction") or "DESC"
    if direction not in SORT_DIRECTIONS:
        errors.append(("VALIDATION.INVALID_QUERY_PARAMETER", "sort_direction must be ASC or DESC"))
    field = request.query_one("sort_field") or "UPDATED_AT"
    if field not in SORT_FIELDS:
        errors.append(
            ("VALIDATION.INVALID_QUERY_PARAMETER", "sort_field must be NAME or UPDATED_AT")
        )
    if errors:
        return _invalid(errors)

    q = request.query_one("q")
    matches = _name_filter(q) if q else None
    with store.lock:
        now = store.now()
        found = [
            a
            for a in store.audiences.values()
            if a.ad_account_id == account_id
            and (not ids or a.id in ids)
            and (not types or "CUSTOM" in types)
            and (matches is None or matches(a.name))
        ]
        if field == "NAME":
            found.sort(key=lambda a: (a.name.casefold(), a.seq), reverse=direction == "DESC")
        else:
            found.sort(key=lambda a: (a.updated_at, a.seq), reverse=direction == "DESC")
        page = [a.to_response(now) for a in found[offset : offset + limit]]
    paging = {
        "page_size": limit,
        "total_results": len(found),
        "offset": offset,
        "current_page": offset // limit + 1,
    }
    return json_response(200, {"paging": paging, "audiences": page})


_ROUTES: list[tuple[re.Pattern[str], dict[str, Callable[..., Response]]]] = [
    (re.compile(r"/ad_accounts/([^/]+)/audiences/upload_url"), {"POST": _upload_url}),
    (
        re.compile(r"/ad_accounts/([^/]+)/audiences/upload_url/([^/]+)"),
        {"POST": _replace_upload_url},
    ),
    (re.compile(r"/ad_accounts/([^/]+)/audiences"), {"GET": _list, "POST": _create}),
    (
        re.compile(r"/ad_accounts/([^/]+)/audiences/([^/]+)"),
        {"GET": _get, "PATCH": _edit, "DELETE": _delete},
    ),
]
