"""A reverse proxy that holds requests until the test opens it: a cloud that answers slowly,
for as long as the test needs to look at what the product holds meanwhile."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class Gate:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.arrived = threading.Event()  # set when a request is waiting at the gate
        self.opened = threading.Event()  # set by the test: let requests through
        self.url = ""


def _handler(gate: Gate) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            gate.arrived.set()
            gate.opened.wait(timeout=60)
            conn = http.client.HTTPConnection(gate.upstream_host, gate.upstream_port, timeout=30)
            conn.request(self.command, self.path, body=body or None, headers=dict(self.headers))
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
def run_gate(upstream: str) -> Iterator[Gate]:
    gate = Gate(upstream)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(gate))
    gate.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gate
    finally:
        gate.opened.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
