"""`POST /batch/calendar/v3`: Google's multipart/mixed batch, as googleapiclient sends it.

Each part (`Content-Type: application/http`) holds an HTTP request line, headers and a body; it
is replayed through the sandbox app itself, so faults, auth, pushes and the request log treat it
like a separate call (logged with batch=True). Parts inherit the outer Authorization header.
The answer is multipart/mixed with one `Content-ID: <response-…>` part per request, in order.
"""

from __future__ import annotations

import email
import secrets
from email.message import Message
from http import HTTPStatus
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, request
from werkzeug.datastructures import Headers

from connectors.sandbox.google_models import GoogleError

PREFIX = "/google"
PATH = "/batch/calendar/v3"
#: set in the WSGI environ of a call replayed from a batch (the request log reads it)
BATCH_ENVIRON = "sandbox.batch"
#: Google's limit per batch
MAX_CALLS = 1000
_HOP = ("host", "content-length", "content-transfer-encoding", "mime-version")

blueprint = Blueprint("google_batch", __name__)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _parts(content_type: str, raw: bytes) -> list[Message]:
    message = email.message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    payload = message.get_payload() if message.is_multipart() else None
    if not isinstance(payload, list) or not payload:
        raise GoogleError(400, "badRequest", "Batch request is not multipart/mixed or is empty.")
    if len(payload) > MAX_CALLS:
        raise GoogleError(400, "badRequest", f"A batch holds at most {MAX_CALLS} calls.")
    return [p for p in payload if isinstance(p, Message)]


def _answer(status: int, headers: Headers, body: bytes) -> str:
    lines = [f"HTTP/1.1 {status} {_phrase(status)}"]
    for name in ("Content-Type", "ETag", "Retry-After", "WWW-Authenticate"):
        if name in headers:
            lines.append(f"{name}: {headers[name]}")
    lines.append(f"Content-Length: {len(body)}")
    return "\r\n".join(lines) + "\r\n\r\n" + body.decode("utf-8", "replace")


def _call(part: Message, authorization: str | None) -> str:
    """Replay one part through the app; the inner HTTP response as text."""
    text = str(part.get_payload()).lstrip("\r\n")
    line, _, rest = text.partition("\n")
    words = line.split()
    if len(words) < 2:
        return _answer(400, Headers({"Content-Type": "text/plain"}), b"Bad request line")
    method, target = words[0].upper(), words[1]
    split = urlsplit(target)
    path = split.path if split.path.startswith(PREFIX + "/") else PREFIX + split.path
    if path.startswith(PREFIX + "/batch"):
        return _answer(400, Headers({"Content-Type": "text/plain"}), b"Batches do not nest")
    inner = email.message_from_string(rest)
    headers = Headers([(k, v) for k, v in inner.items() if k.lower() not in _HOP])
    if authorization and "Authorization" not in headers:
        headers["Authorization"] = authorization
    content_type = headers.pop("Content-Type", None)
    body = str(inner.get_payload()).encode("utf-8", "surrogateescape")
    # a fresh app context keeps the replayed call's `g` apart from the batch's own
    with current_app.app_context():
        response = current_app.test_client().open(
            f"{path}?{split.query}" if split.query else path,
            method=method,
            headers=headers,
            data=body if body.strip() else None,
            content_type=content_type,
            environ_overrides={BATCH_ENVIRON: True},
        )
        try:
            return _answer(response.status_code, response.headers, response.get_data())
        finally:
            response.close()


@blueprint.post(PATH)
def batch() -> Response:
    """Answer every part, in order, in one multipart/mixed response."""
    content_type = request.headers.get("Content-Type", "")
    if not content_type.lower().startswith("multipart/mixed"):
        raise GoogleError(400, "badRequest", "Batch requests must be multipart/mixed.")
    parts = _parts(content_type, request.get_data(cache=True))
    boundary = f"batch_{secrets.token_hex(12)}"
    authorization = request.headers.get("Authorization")
    chunks = []
    for number, part in enumerate(parts, start=1):
        content_id = str(part.get("Content-ID") or number).strip().strip("<>")
        answer = _call(part, authorization)
        chunks.append(
            f"--{boundary}\r\nContent-Type: application/http\r\n"
            f"Content-ID: <response-{content_id}>\r\n\r\n{answer}\r\n"
        )
    body = "".join(chunks) + f"--{boundary}--\r\n"
    return Response(body.encode(), 200, content_type=f"multipart/mixed; boundary={boundary}")
