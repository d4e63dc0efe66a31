"""uvicorn's HTTP/1.1 protocol with SPEC §2's JSON error body for requests it cannot parse.

uvicorn answers a request that h11 refuses before the app sees it — a request line or header
block over h11's limit (16 KiB: e.g. an ``account_ids`` list far past its 200 ids), malformed
syntax — with ``400 Invalid HTTP request received.`` in plain text. Every other error of the
API is ``{"error", "code"}`` JSON (SPEC §2) and the OpenAPI document promises JSON for 400, so
clients and generated SDKs would fail to parse exactly this one. The status and the closed
connection stay as uvicorn has them; only the body and its type change.

h11 rather than httptools (uvicorn's default when installed): httptools buffers a request line
or header block of any length, so one client could grow a worker's memory without bound, and
it answers parse errors in plain text too. h11's pure-Python parsing costs tens of
microseconds per request, next to milliseconds of the app's own work.
"""

from __future__ import annotations

import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

MESSAGE = (
    "the request could not be read as HTTP/1.1: keep the request line and the headers under"
    " 16 KiB together (a long account_ids list belongs in fewer, narrower requests)"
)
BODY = json.dumps({"error": MESSAGE, "code": "bad_request"}).encode()


class JsonErrorH11Protocol(H11Protocol):
    """``H11Protocol`` whose parse-error answer is the API's JSON error."""

    def send_400_response(self, msg: str) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
            (b"connection", b"close"),
        ]
        self.transport.write(self.conn.send(h11.Response(status_code=400, headers=headers)))
        self.transport.write(self.conn.send(h11.Data(data=BODY)))
        self.transport.write(self.conn.send(h11.EndOfMessage()))
        self.transport.close()
