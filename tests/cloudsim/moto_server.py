"""moto's ThreadedMotoServer on a free 127.0.0.1 port: the AWS stand-in, reached by the
product through botocore's own ``AWS_ENDPOINT_URL[_<SERVICE>]`` variables."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reset_moto(url: str) -> None:
    """Drop every moto backend's state (``POST /moto-api/reset``)."""
    req = urllib.request.Request(f"{url}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


@contextmanager
def run_moto_server() -> Iterator[str]:
    """Yield ``http://127.0.0.1:<port>`` of a running moto server; stopped on exit."""
    from moto.server import ThreadedMotoServer  # heavy import: only when a test needs AWS

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
