"""A counting reverse proxy in front of moto: the exact sequence of AWS calls, as sent.

The product reaches it through ``AWS_ENDPOINT_URL_STS`` like any other endpoint, so tests
can assert which STS actions were made, with which parameters and signed by which access
key - without mocking any product code.
"""

from __future__ import annotations

import http.client
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_CREDENTIAL = re.compile(r"Credential=([A-Za-z0-9]+)/")
_LOGGED = ("Action", "RoleArn", "RoleSessionName", "ExternalId", "SecretId")


@dataclass(frozen=True)
class StsCall:
    action: str
    params: dict[str, str]  # RoleArn, RoleSessionName, ExternalId (never tokens or keys)
    access_key_id: str | None  # who signed it (None: unsigned)


class StsProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.calls: list[StsCall] = []
        self._lock = threading.Lock()
        self.url = ""

    def actions(self) -> list[str]:
        with self._lock:
            return [c.action for c in self.calls]

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def record(self, call: StsCall) -> None:
        with self._lock:
            self.calls.append(call)


def _handler(proxy: StsProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
            if "Action" in form:
                match = _CREDENTIAL.search(self.headers.get("Authorization", ""))
                proxy.record(
                    StsCall(
                        action=form["Action"],
                        params={k: form[k] for k in _LOGGED[1:] if k in form},
                        access_key_id=match.group(1) if match else None,
                    )
                )
            conn = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=30)
            # Headers as sent (Host included): the SigV4 signature covers them.
            headers = dict(self.headers.items())
            conn.request(self.command, self.path, body=body or None, headers=headers)
            response = conn.getresponse()
            data = response.read()
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in {"transfer-encoding", "connection", "content-length"}:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

        do_POST = _forward
        do_GET = _forward

    return Handler


@contextmanager
def run_sts_proxy(upstream: str) -> Iterator[StsProxy]:
    proxy = StsProxy(upstream)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
