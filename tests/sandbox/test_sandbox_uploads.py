"""The signed URL host: resumable sessions, chunks, replacement and file validation."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from sandbox_helpers import KIB256, Client, emails, hashes, long_csv

from spotify_ads_sandbox import Sandbox
from spotify_ads_sandbox.listfile import inspect_file


def xml_code(response) -> str:
    assert response.headers["Content-Type"].startswith("application/xml")
    match = re.search(r"<Code>([^<]+)</Code>", response.text)
    assert match, response.text
    return match.group(1)


def big_list() -> tuple[list[tuple[str, str]], bytes]:
    pairs = emails(12000, "big")
    return pairs, long_csv(pairs)


def test_chunked_upload_with_308_range_resend_and_status_query(
    client: Client, sandbox: Sandbox
) -> None:
    pairs, data = big_list()
    size = len(data)
    assert size > 3 * KIB256
    target = client.upload_url()
    session = client.session(target["upload_url"])

    empty_status = client.put(session, b"", "bytes */*")
    assert empty_status.status_code == 308
    assert "Range" not in empty_status.headers

    first = client.put(session, data[:KIB256], f"bytes 0-{KIB256 - 1}/*")
    assert first.status_code == 308
    assert first.headers["Range"] == f"bytes=0-{KIB256 - 1}"
    status = client.put(session, b"", "bytes */*")
    assert (status.status_code, status.headers["Range"]) == (308, f"bytes=0-{KIB256 - 1}")

    # Re-sending bytes the server already has is fine; the overlap is ignored.
    resend = client.put(session, data[: 2 * KIB256], f"bytes 0-{2 * KIB256 - 1}/*")
    assert resend.status_code == 308
    assert resend.headers["Range"] == f"bytes=0-{2 * KIB256 - 1}"

    odd = client.put(
        session, data[2 * KIB256 : 2 * KIB256 + 1000], f"bytes {2 * KIB256}-{2 * KIB256 + 999}/*"
    )
    assert odd.status_code == 400
    assert "262144" in odd.text
    past = client.put(
        session, data[3 * KIB256 : 4 * KIB256], f"bytes {3 * KIB256}-{4 * KIB256 - 1}/*"
    )
    assert past.status_code == 400
    mismatch = client.put(
        session, data[2 * KIB256 : 3 * KIB256], f"bytes {2 * KIB256}-{3 * KIB256 + 9}/*"
    )
    assert mismatch.status_code == 400
    still = client.put(session, b"", f"bytes */{size}")
    assert (still.status_code, still.headers["Range"]) == (308, f"bytes=0-{2 * KIB256 - 1}")

    final = client.put(session, data[2 * KIB256 :], f"bytes {2 * KIB256}-{size - 1}/{size}")
    assert final.status_code == 200, final.text
    assert final.json()["size"] == str(size)
    done = client.put(session, b"", f"bytes */{size}")
    assert done.status_code == 200

    created = client.create(target["id"], "Chunked")
    assert created.status_code == 201, created.text
    assert sandbox.audience_members(target["id"]) == set(pairs)
    assert sandbox.audience_file(target["id"]) == data
    [upload] = sandbox.uploads()
    assert upload["size"] == size
    assert upload["bytes_received"] == size + KIB256


def test_empty_status_query_finalizes_an_aligned_upload(client: Client, sandbox: Sandbox) -> None:
    body = long_csv(emails(4000))
    data = body + b"\n" * (2 * KIB256 - len(body))  # blank lines pad it to 512 KiB
    target = client.upload_url()
    session = client.session(target["upload_url"])
    assert client.put(session, data, f"bytes 0-{len(data) - 1}/*").status_code == 308
    assert client.put(session, b"", f"bytes */{len(data)}").status_code == 200
    assert client.create(target["id"], "Padded").status_code == 201
    assert len(sandbox.audience_members(target["id"])) == 4000


def test_single_put_with_a_full_content_range(client: Client, sandbox: Sandbox) -> None:
    data = long_csv(emails(1000))
    target = client.upload_url()
    session = client.session(target["upload_url"])
    response = client.put(session, data, f"bytes 0-{len(data) - 1}/{len(data)}")
    assert response.status_code == 200
    assert client.create(target["id"], "Ranged").status_code == 201


def test_streamed_chunked_transfer_body(client: Client, sandbox: Sandbox) -> None:
    data = long_csv(emails(1500))
    target = client.upload_url()
    session = client.session(target["upload_url"])
    pieces = (data[i : i + 10_000] for i in range(0, len(data), 10_000))
    response = client.http.put(session, data=pieces, timeout=10)
    assert response.status_code == 200, response.text
    assert client.create(target["id"], "Streamed").status_code == 201
    assert sandbox.audience_file(target["id"]) == data


def test_signed_url_start_is_strict(client: Client, clock) -> None:
    target = client.upload_url()
    url = target["upload_url"]

    with_auth = client.start_session(url, Authorization=f"Bearer {client.token}")
    assert with_auth.status_code == 400
    assert xml_code(with_auth) == "InvalidArgument"
    assert client.start_session(url, **{"x-goog-resumable": None}).status_code == 403
    wrong_type = client.start_session(url, **{"Content-Type": "application/octet-stream"})
    assert (wrong_type.status_code, xml_code(wrong_type)) == (403, "SignatureDoesNotMatch")
    plain_put = client.http.put(url, data=b"type,value\n", headers={"Content-Type": "text/csv"})
    assert plain_put.status_code == 403

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["X-Goog-Signature"] = "0" * len(query["X-Goog-Signature"])
    forged = parts._replace(query=urlencode(query)).geturl()
    assert xml_code(client.start_session(forged)) == "SignatureDoesNotMatch"
    query = dict(parse_qsl(parts.query))
    query["X-Goog-Expires"] = "999999"
    longer = parts._replace(query=urlencode(query)).geturl()
    assert client.start_session(longer).status_code == 403
    unknown = url.replace(target["id"], "00000000-0000-4000-8000-000000000000")
    assert client.start_session(unknown).status_code == 403

    for body in (b"x", b"x" * 5000):
        non_empty = client.http.post(
            url, data=body, headers={"x-goog-resumable": "start", "Content-Type": "text/csv"}
        )
        assert non_empty.status_code == 400

    clock.advance(3601)
    expired = client.start_session(url)
    assert (expired.status_code, xml_code(expired)) == (403, "ExpiredToken")


def test_session_uri_errors_and_cancel(client: Client, sandbox: Sandbox) -> None:
    target = client.upload_url()
    session = client.session(target["upload_url"])
    unknown = re.sub(r"upload_id=[^&]+", "upload_id=nope", session)
    assert client.put(unknown, b"abc").status_code == 404
    leaked = client.http.put(
        session, data=b"abc", headers={"Authorization": f"Bearer {client.token}"}
    )
    assert leaked.status_code == 400
    assert client.put(session, b"abc", "bytes 0-2").status_code == 400
    cancel = client.http.delete(session)
    assert cancel.status_code == 499
    assert client.put(session, b"type,value\n").status_code == 410
    # A new session on the same signed URL still works.
    second = client.session(target["upload_url"])
    assert client.put(second, long_csv(emails(1000))).status_code == 200
    assert [u["sessions"] for u in sandbox.uploads()] == [2]


def test_replacement_swaps_the_list_and_keeps_the_id(make_sandbox, clock) -> None:
    sandbox = make_sandbox(processing_seconds=600)
    client = Client(sandbox)
    client.login()
    first_pairs = emails(2000, "first")
    audience = client.create_audience(long_csv(first_pairs), "Mirror")
    audience_id = audience["id"]
    path = client.audiences_path(f"/{audience_id}")

    assert client.api("GET", path).json()["status"] == "PROCESSING"
    clock.advance(600)
    bookable = client.api("GET", path).json()
    assert bookable["status"] == "BOOKABLE"
    first_size = bookable["size"]
    assert first_size["max"] > first_size["min"] > 0

    clock.advance(60)
    second_pairs = emails(30000, "second")
    target = client.upload_url(audience_id)
    assert target["id"] != audience_id
    response = client.put(client.session(target["upload_url"]), long_csv(second_pairs))
    assert response.status_code == 200

    assert sandbox.audience_members(audience_id) == set(second_pairs)
    reprocessing = client.api("GET", path).json()
    assert reprocessing["id"] == audience_id
    assert reprocessing["status"] == "PROCESSING"
    assert reprocessing["size"] == first_size
    assert reprocessing["updated_at"] > bookable["updated_at"]
    clock.advance(600)
    refreshed = client.api("GET", path).json()
    assert refreshed["status"] == "BOOKABLE"
    assert refreshed["size"]["min"] > first_size["max"]
    assert [a["id"] for a in client.api("GET", client.audiences_path()).json()["audiences"]] == [
        audience_id
    ]
    replace = [u for u in sandbox.uploads() if u["mode"] == "replace"]
    assert [(u["id"], u["audience_id"], u["completed"]) for u in replace] == [
        (target["id"], audience_id, True)
    ]
    # A replacement upload cannot create a second audience.
    assert client.create(target["id"], "Twin").status_code == 400
    # Only the active file is kept on disk.
    files = sorted(Path(sandbox.store.files_dir).iterdir())
    assert len(files) == 1


def test_invalid_replacement_leaves_the_list_alone(client: Client, sandbox: Sandbox) -> None:
    pairs = emails(1000)
    audience_id = client.create_audience(long_csv(pairs), "Stable")["id"]
    target = client.upload_url(audience_id)
    bad = long_csv(emails(10, "tiny"))
    assert client.put(client.session(target["upload_url"]), bad).status_code == 200
    assert sandbox.audience_members(audience_id) == set(pairs)
    upload = next(u for u in sandbox.uploads() if u["id"] == target["id"])
    assert "at least 1000" in upload["validation_error"]


def test_replacement_url_needs_an_existing_audience(client: Client) -> None:
    missing = client.api(
        "POST", client.audiences_path("/upload_url/5f0c4a8e-0000-4000-8000-000000000001")
    )
    assert missing.status_code == 404
    assert missing.json()["error_codes"][0]["code"] == "NOT_FOUND.AUDIENCE"
    bad = client.api("POST", client.audiences_path("/upload_url/not-a-uuid"))
    assert bad.status_code == 400


def test_create_with_an_invalid_file_reports_the_validation_error(client: Client) -> None:
    rows = emails(1200)
    rows[5] = ("EMAIL_ID_SHA256", rows[5][1].upper())
    upload_id = client.upload(long_csv(rows))
    response = client.create(upload_id, "Broken")
    assert response.status_code == 400
    [message] = response.json()["messages"]
    assert "Line 7" in message and "64 lower-case" in message

    short = client.upload(long_csv(emails(999)))
    response = client.create(short, "Short")
    assert response.status_code == 400
    assert "999 identifiers; at least 1000" in response.json()["messages"][0]


def test_create_with_unknown_unfinished_or_used_uploads(client: Client) -> None:
    unknown = client.create("0f7a1c2e-0000-4000-8000-000000000001", "Ghost")
    assert unknown.status_code == 400
    assert unknown.json()["error_codes"][0]["code"] == "AUDIENCE.UPLOAD_NOT_FOUND"

    unfinished = client.upload_url()
    session = client.session(unfinished["upload_url"])
    data = long_csv(emails(5000))
    assert client.put(session, data[:KIB256], f"bytes 0-{KIB256 - 1}/*").status_code == 308
    response = client.create(unfinished["id"], "Half")
    assert response.status_code == 400
    assert response.json()["error_codes"][0]["code"] == "AUDIENCE.UPLOAD_NOT_COMPLETED"
    never_started = client.upload_url()
    assert client.create(never_started["id"], "Never").status_code == 400

    used = client.upload(long_csv(emails(1000)))
    assert client.create(used, "Once").status_code == 201
    again = client.create(used, "Twice")
    assert again.status_code == 400
    assert again.json()["error_codes"][0]["code"] == "AUDIENCE.UPLOAD_ALREADY_USED"


HEX = hashes(3)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"type,value\n" + b"".join(b"EMAIL_ID_SHA256,%s\n" % h.encode() for h in HEX), None),
        (b"type,value\r\nDEVICE_ID_SHA256," + HEX[0].encode() + b"\r\n", None),
        (b"\xef\xbb\xbftype,value\nPHONE_NUMBER_SHA256," + HEX[0].encode() + b"\n", None),
        (
            b"EMAIL_ID_SHA256,DEVICE_ID_SHA256\n%s,\n,%s\n%s,%s\n"
            % (HEX[0].encode(), HEX[1].encode(), HEX[2].encode(), HEX[0].encode()),
            None,
        ),
        (b"", "empty"),
        (b"email,value\n", "header"),
        (b"type,value\nEMAIL,%s\n" % HEX[0].encode(), "unknown identifier type"),
        (b"type,value\nEMAIL_ID_SHA256,%s\n" % HEX[0][:63].encode(), "SHA-256"),
        (b"type,value\nEMAIL_ID_SHA256,%s,x\n" % HEX[0].encode(), "expected 2 columns"),
        (b"type,value\nEMAIL_ID_SHA256,\xff\xfe\n", "UTF-8"),
        (b"EMAIL_ID_SHA256,EMAIL_ID_SHA256\n", "header"),
    ],
)
def test_list_file_validation(tmp_path: Path, content: bytes, error: str | None) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(content)
    report = inspect_file(path, min_identifiers=1, max_bytes=10_000, match_rate=0.5)
    if error is None:
        assert report.error is None
        assert report.identifiers >= 1
    else:
        assert report.error is not None and error in report.error


def test_list_file_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(long_csv(emails(100)))
    report = inspect_file(path, min_identifiers=1, max_bytes=1000, match_rate=0.5)
    assert report.error is not None and "at most 1000 bytes" in report.error
    assert len(report.sha256) == 64


def test_wide_layout_upload_counts_each_column(make_sandbox) -> None:
    sandbox = make_sandbox(min_identifiers=3)
    client = Client(sandbox)
    client.login()
    data = f"EMAIL_ID_SHA256,DEVICE_ID_SHA256\n{HEX[0]},\n,{HEX[1]}\n{HEX[2]},{HEX[0]}\n".encode()
    audience_id = client.create_audience(data, "Wide")["id"]
    assert sandbox.audience_members(audience_id) == {
        ("EMAIL_ID_SHA256", HEX[0]),
        ("EMAIL_ID_SHA256", HEX[2]),
        ("DEVICE_ID_SHA256", HEX[1]),
        ("DEVICE_ID_SHA256", HEX[0]),
    }
    [state] = sandbox.state()["audiences"]
    assert state["identifier_counts"] == {
        "EMAIL_ID_SHA256": 2,
        "PHONE_NUMBER_SHA256": 0,
        "DEVICE_ID_SHA256": 2,
    }
