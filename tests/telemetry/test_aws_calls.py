"""AWS call series from botocore's event hooks, against a stand-in STS speaking the wire format.

The stand-in throttles or refuses by the signing access key, so one test covers a call that
succeeds after a throttled attempt, one that stays throttled and one that is refused.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import aioboto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from api.telemetry import metrics
from api.telemetry.aws import instrument_aws_session
from tests.telemetry.conftest import value

NS = "https://sts.amazonaws.com/doc/2011-06-15/"
IDENTITY = (
    f'<GetCallerIdentityResponse xmlns="{NS}"><GetCallerIdentityResult>'
    "<Arn>arn:aws:iam::123456789012:user/ci</Arn><UserId>AIDAEXAMPLE</UserId>"
    "<Account>123456789012</Account></GetCallerIdentityResult>"
    "<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
)


def _error(code: str, message: str) -> str:
    return (
        f'<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>r-2</RequestId></ErrorResponse>"
    )


class StandInSts:
    """``AKIATHROTTLEONCE…`` is throttled once, ``AKIATHROTTLED…`` always, ``AKIADENIED…`` refused."""

    def __init__(self) -> None:
        self.attempts: dict[str, int] = {}
        self.lock = threading.Lock()

    def answer(self, access_key: str) -> tuple[int, str]:
        with self.lock:
            self.attempts[access_key] = self.attempts.get(access_key, 0) + 1
            attempt = self.attempts[access_key]
        if access_key.startswith("AKIATHROTTLEONCE") and attempt == 1:
            return 400, _error("Throttling", "Rate exceeded")
        if access_key.startswith("AKIATHROTTLED"):
            return 400, _error("Throttling", "Rate exceeded")
        if access_key.startswith("AKIADENIED"):
            return 403, _error("AccessDenied", "not authorized")
        return 200, IDENTITY


@pytest.fixture
def sts(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandInSts]:
    stand_in = StandInSts()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            match = re.search(r"Credential=([A-Z0-9]+)/", self.headers.get("Authorization", ""))
            status, body = stand_in.answer(match.group(1) if match else "")
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", f"http://127.0.0.1:{server.server_address[1]}")
    yield stand_in
    server.shutdown()
    server.server_close()


async def _identity(session: aioboto3.Session, access_key: str) -> None:
    config = Config(retries={"mode": "standard", "max_attempts": 2}, region_name="us-east-1")
    async with session.client(
        "sts",
        aws_access_key_id=access_key,
        aws_secret_access_key="secret-not-a-label",
        region_name="us-east-1",
        config=config,
    ) as client:
        await client.get_caller_identity()


def _scrape() -> str:
    return metrics.render(None, None)[0].decode()


async def test_calls_throttles_and_retries_are_counted(sts: StandInSts) -> None:
    session = instrument_aws_session(aioboto3.Session())
    labels = {"provider": "aws", "service": "sts", "operation": "GetCallerIdentity"}
    before = _scrape()

    await _identity(session, "AKIATHROTTLEONCE0001")  # throttled, retried, then ok
    with pytest.raises(ClientError):
        await _identity(session, "AKIATHROTTLED0000001")  # throttled on both attempts
    with pytest.raises(ClientError):
        await _identity(session, "AKIADENIED0000000001")  # refused, not retried

    after = _scrape()

    def delta(name: str, **extra: str) -> float:
        return value(after, name, **labels, **extra) - value(before, name, **labels, **extra)

    assert delta("cudly_cloud_calls_total", outcome="ok") == 1
    assert delta("cudly_cloud_calls_total", outcome="throttled") == 1
    assert delta("cudly_cloud_calls_total", outcome="error") == 1
    # The SDK's retry policy decides how often the always-throttled call is attempted.
    always = sts.attempts["AKIATHROTTLED0000001"]
    assert always >= 2
    assert sts.attempts["AKIATHROTTLEONCE0001"] == 2
    assert sts.attempts["AKIADENIED0000000001"] == 1
    assert delta("cudly_cloud_throttles_total") == 1 + always  # every throttled attempt
    assert delta("cudly_cloud_retries_total") == 1 + (always - 1)
    assert "secret-not-a-label" not in after and "AKIA" not in after


def test_instrumenting_twice_counts_once(sts: StandInSts) -> None:
    session = aioboto3.Session()
    assert instrument_aws_session(instrument_aws_session(session)) is session
    handlers = [
        h
        for h in session.events._emitter._handlers.prefix_search("after-call")
        if getattr(h, "__module__", "") == "api.telemetry.aws"
    ]
    assert len(handlers) == 1
