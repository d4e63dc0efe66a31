"""A client-chosen value cannot forge a log line or repaint a terminal (item 9)."""

from __future__ import annotations

import logging

import httpx
import pytest

from api.logging import TextFormatter, escape_control


async def test_a_path_with_a_newline_or_ansi_escape_stays_on_one_line(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    forged = "/api/x%0a2026-01-01 00:00:00,000 INFO api.auth: admin signed in%1b[2J%e2%80%ae"
    await client.get(forged)
    (record,) = [r for r in caplog.records if r.name == "cudly.access"]
    line = TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s").format(record)
    assert "\n" not in line and "\x1b" not in line and "\u202e" not in line
    assert "\\x0a2026-01-01" in line and "\\x1b[2J" in line and "\\u202e" in line


def test_extras_are_escaped_too() -> None:
    record = logging.makeLogRecord(
        {"msg": "user agent", "levelname": "INFO", "agent": "curl\r\nINFO forged"}
    )
    line = TextFormatter("%(message)s").format(record)
    assert line == "user agent agent=curl\\x0d\\x0aINFO forged"


def test_printable_text_is_unchanged() -> None:
    assert escape_control("GET /api/accounts?search=é 200") == "GET /api/accounts?search=é 200"
