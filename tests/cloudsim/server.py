"""Run the cloud simulator on a real 127.0.0.1 port (uvicorn in a background thread).

A real socket is needed because the product reaches clouds through real client libraries
(aiohttp, requests, httpx), never through an in-process transport. The HTTPS variant
exists because azure-identity refuses non-https authority hosts; its throwaway CA (trustme)
is written to ``ca_pem_path`` for the product's ``CUDLY_CA_BUNDLE``.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import trustme
import uvicorn

from .app import SimState, create_app


@dataclass
class SimServer:
    """A running simulator: ``url`` is ``http(s)://127.0.0.1:<port>`` (no trailing slash)."""

    url: str
    state: SimState
    ca_pem_path: str | None
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _tmp: tempfile.TemporaryDirectory[str] | None = field(repr=False, default=None)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _wait_until_answering(port: int, server: uvicorn.Server, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.started:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                pass
        time.sleep(0.02)
    raise RuntimeError(f"cloudsim did not start on port {port}")


def start_cloudsim(tls: bool = True, state: SimState | None = None) -> SimServer:
    """Start a server (caller must ``stop()`` it). Prefer :func:`run_cloudsim`."""
    state = state or SimState()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # pre-bound socket: no free-port race
    port = sock.getsockname()[1]
    tmp: tempfile.TemporaryDirectory[str] | None = None
    ca_path = keyfile = certfile = None
    if tls:
        tmp = tempfile.TemporaryDirectory(prefix="cloudsim-")
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        ca_path = str(Path(tmp.name) / "ca.pem")
        ca.cert_pem.write_to_path(ca_path)
        cert.private_key_pem.write_to_path(str(Path(tmp.name) / "key.pem"))
        cert.cert_chain_pems[0].write_to_path(str(Path(tmp.name) / "cert.pem"))
        keyfile, certfile = str(Path(tmp.name) / "key.pem"), str(Path(tmp.name) / "cert.pem")
    config = uvicorn.Config(
        create_app(state),
        log_level="warning",
        lifespan="off",
        access_log=False,
        ssl_keyfile=keyfile,
        ssl_certfile=certfile,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"cloudsim-{port}", daemon=True
    )
    thread.start()
    _wait_until_answering(port, server)
    scheme = "https" if tls else "http"
    return SimServer(f"{scheme}://127.0.0.1:{port}", state, ca_path, server, thread, tmp)


@contextmanager
def run_cloudsim(tls: bool = True, state: SimState | None = None) -> Iterator[SimServer]:
    """``with run_cloudsim(tls=True) as sim: ...`` - started and answering on entry."""
    sim = start_cloudsim(tls, state)
    try:
        yield sim
    finally:
        sim.stop()
