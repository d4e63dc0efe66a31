"""A reverse proxy that holds requests until the test opens it: a cloud that answers slowly,
for as long as the test needs to look at what the product holds meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

_HOP_BY_HOP = {"transfer-encoding", "connection", "content-length", "content-encoding"}


class Gate:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.arrived = threading.Event()  # set when a request is waiting at the gate
        self.opened = threading.Event()  # set by the test: let requests through
        self.url = ""


def _handler(gate: Gate) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _pass(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            payload = self.rfile.read(size) if size else None
            gate.arrived.set()
            gate.opened.wait(timeout=60)
            # Headers as sent (Host included): an AWS signature covers them.
            upstream = httpx.request(
                self.command,
                gate.upstream + self.path,
                content=payload,
                headers=list(self.headers.items()),
                timeout=30,
            )
            self.send_response(upstream.status_code)
            for name, value in upstream.headers.multi_items():
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(upstream.content)))
            self.end_headers()
            self.wfile.write(upstream.content)

        do_GET = do_POST = _pass

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
