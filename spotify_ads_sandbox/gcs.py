"""The signed-URL host: Cloud Storage XML API resumable uploads under ``/gcs/``."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from urllib.parse import quote

from .faults import SESSION_PATH, Fault
from .http_util import BLOCK_SIZE, Request, Response, gcs_error, json_response
from .store import Store, Upload, UploadSession

BUCKET = "spotify-ads-sandbox-audience-uploads"
CHUNK_GRANULARITY = 256 * 1024
SIGNED_HEADERS = "content-type;host;x-goog-resumable"
SIGNED_CONTENT_TYPE = "text/csv"
_SERVICE_ACCOUNT = "audience-uploads@spotify-ads-sandbox.iam.gserviceaccount.com"
_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_QUERY_RANGE = re.compile(r"bytes \*/(\d+|\*)")


def _canonical_query(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in sorted(params))


def _signature(store: Store, object_path: str, canonical_query: str) -> str:
    message = f"POST\n{object_path}\n{canonical_query}\n{SIGNED_HEADERS}".encode()
    return hmac.new(store.signing_key, message, hashlib.sha512).hexdigest()


def signed_url(store: Store, base_url: str, upload: Upload) -> str:
    """A V4-style signed URL for starting a resumable upload of ``upload``'s object."""
    issued = store.now()
    date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(issued))
    params = [
        ("X-Goog-Algorithm", "GOOG4-RSA-SHA256"),
        ("X-Goog-Credential", f"{_SERVICE_ACCOUNT}/{date[:8]}/auto/storage/goog4_request"),
        ("X-Goog-Date", date),
        ("X-Goog-Expires", str(int(store.config.upload_url_ttl))),
        ("X-Goog-SignedHeaders", SIGNED_HEADERS),
    ]
    object_path = f"/gcs/{BUCKET}/{upload.object_name}"
    canonical = _canonical_query(params)
    signature = _signature(store, object_path, canonical)
    return f"{base_url}{object_path}?{canonical}&X-Goog-Signature={signature}"


def _signature_mismatch(details: str) -> Response:
    return gcs_error(
        403,
        "SignatureDoesNotMatch",
        "Access denied.",
        f"The request signature we calculated does not match the signature you provided. {details}",
    )


def handle(store: Store, request: Request, base_url: str, fault: Fault | None) -> Response:
    """Dispatch a request under ``/gcs/``."""
    if request.path == SESSION_PATH:
        return _session_request(store, request, fault)
    return _start_session(store, request, base_url)


def _start_session(store: Store, request: Request, base_url: str) -> Response:
    body = request.body.read_all(1024)
    if request.header("authorization") is not None:
        return gcs_error(
            400,
            "InvalidArgument",
            "Invalid argument.",
            "A signed URL request must not carry an Authorization header.",
        )
    object_path = request.path
    object_name = object_path.removeprefix(f"/gcs/{BUCKET}/")
    signature = request.query_one("X-Goog-Signature")
    params = [
        (name, values[-1]) for name, values in request.query.items() if name != "X-Goog-Signature"
    ]
    with store.lock:
        upload_id = store.uploads_by_object.get(object_name)
        upload = store.uploads.get(upload_id) if upload_id else None
    expected = _signature(store, object_path, _canonical_query(params))
    if (
        upload is None
        or not object_path.startswith(f"/gcs/{BUCKET}/")
        or signature is None
        or not hmac.compare_digest(signature, expected)
    ):
        return _signature_mismatch("Check your signed URL.")
    if request.method != "POST":
        return _signature_mismatch(
            f"The URL is signed for POST (resumable upload start), not {request.method}."
        )
    if store.now() >= upload.url_expires_at:
        return gcs_error(
            403, "ExpiredToken", "The provided token has expired.", "Request signature expired."
        )
    if (request.header("x-goog-resumable") or "").strip().lower() != "start":
        return _signature_mismatch("The signed header x-goog-resumable must be 'start'.")
    content_type = (request.header("content-type") or "").strip().lower()
    if content_type != SIGNED_CONTENT_TYPE:
        return _signature_mismatch(
            f"The signed header content-type must be '{SIGNED_CONTENT_TYPE}'."
        )
    if body is None or body:
        return gcs_error(
            400,
            "InvalidArgument",
            "Invalid argument.",
            "A resumable upload start request must have an empty body.",
        )
    session = store.new_session(upload)
    location = f"{base_url}{SESSION_PATH}?upload_id={session.id}"
    return Response(201, b"", [("Location", location), ("X-GUploader-UploadID", session.id)])


def _object_metadata(store: Store, session: UploadSession) -> Response:
    with store.lock:
        upload = store.uploads[session.upload_id]
        report = upload.report
    created = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(session.created_at))
    generation = str(int(session.created_at * 1_000_000))
    return json_response(
        200,
        {
            "kind": "storage#object",
            "id": f"{BUCKET}/{upload.object_name}/{generation}",
            "name": upload.object_name,
            "bucket": BUCKET,
            "generation": generation,
            "contentType": SIGNED_CONTENT_TYPE,
            "size": str(report.size if report else session.total or 0),
            "timeCreated": created,
            "updated": created,
        },
    )


def _incomplete(session: UploadSession) -> Response:
    headers = [("X-GUploader-UploadID", session.id)]
    if session.persisted:
        headers.append(("Range", f"bytes=0-{session.persisted - 1}"))
    return Response(308, b"", headers)


def _bad_request(message: str) -> Response:
    return gcs_error(400, "InvalidArgument", "Invalid argument.", message)


def _session_request(store: Store, request: Request, fault: Fault | None) -> Response:
    session_id = request.query_one("upload_id") or ""
    with store.lock:
        session = store.sessions.get(session_id)
        if session is not None and session.state == "open" and store.now() >= session.expires_at:
            store.drop_session(session, "gone")
            session = None
    if fault is not None and fault.kind == "session_gone" and session is not None:
        store.drop_session(session, "gone")
        session = None
    if session is None:
        request.body.drain()
        return gcs_error(404, "NoSuchUpload", "No such upload.", "The upload session is gone.")
    if session.state == "cancelled":
        request.body.drain()
        return gcs_error(410, "Gone", "The upload session was cancelled.")
    if request.method == "DELETE":
        request.body.drain()
        if session.completed:
            return _object_metadata(store, session)
        store.drop_session(session, "cancelled")
        return Response(499, b"")
    if request.method != "PUT":
        request.body.drain()
        return gcs_error(405, "MethodNotAllowed", "Use PUT on an upload session.")
    if request.header("authorization") is not None:
        request.body.drain()
        return gcs_error(
            400,
            "InvalidArgument",
            "Invalid argument.",
            "An upload session request must not carry an Authorization header.",
        )
    if fault is not None and fault.kind == "no_progress":
        return _no_progress(store, request, session)
    drop_after = fault.params["bytes"] if fault and fault.kind == "drop_after_bytes" else None
    response = _put(store, request, session, drop_after)
    if drop_after is not None:
        response.drop = True
    return response


def _no_progress(store: Store, request: Request, session: UploadSession) -> Response:
    """Swallow the body and answer as if none of it had arrived: 308, the old ``Range``."""
    with store.lock:
        upload = store.uploads[session.upload_id]
    for block in request.body.blocks():
        with store.lock:
            upload.bytes_received += len(block)
    with session.lock:
        if session.completed:
            return _object_metadata(store, session)
        return _incomplete(session)


def _put(
    store: Store, request: Request, session: UploadSession, drop_after: int | None
) -> Response:
    content_range = (request.header("content-range") or "").strip()
    length = request.body.length
    with session.lock:
        if session.state != "open":
            request.body.drain()
            return gcs_error(404, "NoSuchUpload", "No such upload.")
        if content_range and (match := _QUERY_RANGE.fullmatch(content_range)):
            return _status_query(store, request, session, match.group(1))
        if session.completed:
            request.body.drain()
            return _object_metadata(store, session)

        total: int | None
        if not content_range:
            start, size, total, final = 0, length, length, True
        elif match := _RANGE.fullmatch(content_range):
            start, end = int(match.group(1)), int(match.group(2))
            total = None if match.group(3) == "*" else int(match.group(3))
            if end < start:
                request.body.drain()
                return _bad_request(f"Invalid Content-Range: {content_range}")
            size = end - start + 1
            if total is not None and end >= total:
                request.body.drain()
                return _bad_request(f"Content-Range {content_range} ends past the total size.")
            final = total is not None and end + 1 == total
            if length is not None and length != size:
                request.body.drain()
                return _bad_request(
                    f"Content-Length {length} does not match Content-Range {content_range}."
                )
            if not final and size % CHUNK_GRANULARITY:
                request.body.drain()
                return _bad_request(
                    "Invalid request. The number of bytes uploaded is required to be equal or "
                    f"greater than {CHUNK_GRANULARITY}, except for the final request (it's "
                    f"recommended to be the exact multiple of {CHUNK_GRANULARITY})."
                )
        else:
            request.body.drain()
            return _bad_request(f"Invalid Content-Range: {content_range}")

        if start > session.persisted:
            request.body.drain()
            return _bad_request(
                f"Invalid request. According to the Content-Range header, the upload offset is "
                f"{start} byte(s), which exceeds already uploaded size of {session.persisted} "
                "byte(s)."
            )
        if total is not None and session.total is not None and total != session.total:
            request.body.drain()
            return _bad_request(
                f"The total size {total} differs from the {session.total} declared before."
            )

        received = _write_body(store, request, session, start, size, drop_after)
        if request.body.truncated or (drop_after is not None and not request.body.done):
            # The connection broke (or a fault broke it): keep what arrived, answer nothing.
            return Response(499, drop=True)
        if not request.body.done:
            request.body.drain()
            return _bad_request("The body is longer than the Content-Range says.")
        if size is None:
            total = start + received
            if session.total is not None and total != session.total:
                return _bad_request(
                    f"The total size {total} differs from the {session.total} declared before."
                )
        if total is not None:
            if session.persisted > total:
                return _bad_request(
                    f"{session.persisted} bytes were already uploaded, more than the total {total}."
                )
            session.total = total
        if not final or session.persisted != session.total:
            return _incomplete(session)
        store.finish_session(session)
        return _object_metadata(store, session)


def _write_body(
    store: Store,
    request: Request,
    session: UploadSession,
    start: int,
    size: int | None,
    drop_after: int | None,
) -> int:
    """Append the body's new bytes to the session file; return the number of body bytes read."""
    upload = store.uploads[session.upload_id]
    skip = session.persisted - start
    budget = size if size is not None else None
    if drop_after is not None:
        budget = drop_after if budget is None else min(budget, drop_after)
    received = 0
    with session.part_path.open("r+b") as handle:
        handle.seek(session.persisted)
        while budget is None or received < budget:
            want = BLOCK_SIZE if budget is None else min(BLOCK_SIZE, budget - received)
            block = request.body.read(want)
            if not block:
                break
            received += len(block)
            with store.lock:
                upload.bytes_received += len(block)
            if skip > 0:
                cut = min(skip, len(block))
                block = block[cut:]
                skip -= cut
            if block:
                handle.write(block)
                session.persisted += len(block)
    return received


def _status_query(
    store: Store, request: Request, session: UploadSession, declared: str
) -> Response:
    if request.body.read_all(0) is None:
        return _bad_request("A status query must have an empty body.")
    if session.completed:
        return _object_metadata(store, session)
    if declared != "*":
        total = int(declared)
        if session.total is not None and total != session.total:
            return _bad_request(
                f"The total size {total} differs from the {session.total} declared before."
            )
        if session.persisted > total:
            return _bad_request(
                f"{session.persisted} bytes were already uploaded, more than the total {total}."
            )
        session.total = total
        if session.persisted == total:
            store.finish_session(session)
            return _object_metadata(store, session)
    return _incomplete(session)
