"""SNDS parsing, observations, and fetching from a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from opsconsole.core.reputation.snds import (
    SNDS_BLOCKED,
    SNDS_FILTER,
    BlockedRange,
    SndsConfig,
    SndsError,
    fetch_snds,
    parse_ipstatus,
    parse_usage,
    snds_observations,
)

KEY = "7f3c1a2b-SECRET-KEY-99"
DATA = Path(__file__).parent / "snds_data"
# Hand-written exports: 13 usage rows (GREEN/YELLOW/RED, trap hits, a blank line, a quoted
# count, extra columns, short rows, malformed ones) and 5 IP-status rows.
USAGE = (DATA / "usage.csv").read_text()
IPSTATUS = (DATA / "ipstatus.csv").read_text()


def test_parse_usage_rows_and_problems() -> None:
    rows, problems = parse_usage(USAGE)
    assert [r.ip for r in rows] == [f"192.0.2.{i}" for i in range(10, 19)] + ["192.0.2.12"]
    red = rows[3]
    assert (red.filter, red.rcpt_commands, red.data_commands, red.recipients) == (
        "RED",
        8000,
        7990,
        8004,
    )
    assert (red.complaint_rate, red.complaint_below, red.trap_hits, red.day) == (
        0.012,
        False,
        14,
        "2026-11-29",
    )
    assert (red.trap_start, red.sample_helo, red.sample_mail_from) == (
        "11/29/2026 3:00 AM",
        "mail13.example.test",
        "news@example.test",
    )
    assert (rows[0].complaint_rate, rows[0].complaint_below) == (0.001, True)
    assert (rows[6].rcpt_commands, rows[6].filter) == (1500, "GREEN")  # quoted, lower case
    assert rows[7].comments == "note one,note two"  # extra columns stay in the comments
    assert (rows[8].sample_helo, rows[8].comments) == ("", "")  # sample columns absent
    assert problems == [
        "line 11: bad value ('not-an-ip' does not appear to be an IPv4 or IPv6 address)",
        "line 12: 3 columns, expected 14",
        "line 13: unknown filter result 'PURPLE'",
    ]


def test_parse_usage_never_fatal_and_bounded() -> None:
    assert parse_usage("") == ([], [])
    assert parse_usage("<html><body>Sign in</body></html>") == (
        [],
        ["line 1: not CSV (an HTML page: is the key right?)"],
    )
    junk = "\n".join(f"x{i}" for i in range(200)) + "\n" + "y" * 5000
    rows, problems = parse_usage(junk)
    assert rows == []
    assert len(problems) == 51
    assert problems[-1] == "... and 151 more problems"


def test_parse_ipstatus() -> None:
    ranges, problems = parse_ipstatus(IPSTATUS)
    assert ranges == [
        BlockedRange(
            "198.51.100.0",
            "198.51.100.7",
            True,
            "Blocked due to user complaints or other evidence of spamming",
        ),
        BlockedRange(
            "203.0.113.9",
            "203.0.113.9",
            True,
            "Blocked due to user complaints or other evidence of spamming",
        ),
        BlockedRange("203.0.113.20", "203.0.113.21", False, ""),
    ]
    assert problems[0] == "line 4: range end before its start"
    assert problems[1].startswith("line 5: bad address")
    assert ranges[0].contains("198.51.100.5") and not ranges[0].contains("198.51.100.8")


def test_observations() -> None:
    rows, _ = parse_usage(USAGE)
    ranges, _ = parse_ipstatus(IPSTATUS)
    obs = snds_observations(rows, ranges)
    got = [(o.rule, o.ip, o.provider, o.severity, o.trap_hits) for o in obs]
    assert got == [
        (SNDS_FILTER, "192.0.2.12", "microsoft", "warning", 2),  # YELLOW + later trap row
        (SNDS_FILTER, "192.0.2.13", "microsoft", "critical", 14),
        (SNDS_FILTER, "192.0.2.14", "microsoft", "warning", 1),  # GREEN but a trap hit
        (SNDS_FILTER, "192.0.2.18", "microsoft", "critical", 0),
        (SNDS_BLOCKED, "198.51.100.0", "microsoft", "critical", 0),
        (SNDS_BLOCKED, "203.0.113.9", "microsoft", "critical", 0),
    ]
    assert obs[1].message == (
        "Microsoft SNDS filter result RED for 192.0.2.13 on 2026-11-29; 14 spam trap hits"
    )
    assert obs[4].title == "Microsoft blocks 198.51.100.0-198.51.100.7"


class _Snds(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        if query.get("key") != [KEY]:
            self._send(401, "<html>Unauthorized</html>")
        elif url.path == "/snds/data.aspx":
            self._send(200, USAGE)
        elif url.path == "/snds/ipStatus.aspx":
            self._send(200, IPSTATUS)
        else:
            self._send(500, f"boom for key {KEY}")

    def _send(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def snds_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Snds)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def base(server: ThreadingHTTPServer, path: str = "/snds/") -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


async def test_fetch_and_observe(snds_server: ThreadingHTTPServer) -> None:
    async with httpx.AsyncClient() as client:
        cfg = SndsConfig(KEY, base(snds_server), timeout=5.0)
        text = await fetch_snds(client, cfg, "data", date="112926")
        status = await fetch_snds(client, cfg, "ipStatus")
    assert snds_server.seen == [  # type: ignore[attr-defined]
        f"/snds/data.aspx?key={KEY}&date=112926",
        f"/snds/ipStatus.aspx?key={KEY}",
    ]
    rows, _ = parse_usage(text)
    ranges, _ = parse_ipstatus(status)
    critical = [o.ip for o in snds_observations(rows, ranges) if o.severity == "critical"]
    assert critical == ["192.0.2.13", "192.0.2.18", "198.51.100.0", "203.0.113.9"]


def _everything_about(exc: BaseException) -> str:
    return str(exc) + repr(exc) + "".join(traceback.format_exception(exc))


@pytest.mark.parametrize(
    ("key", "path", "reason"),
    [
        ("wrong-" + KEY, "/snds/", "SNDS data: HTTP 401"),
        (KEY, "/other/", "SNDS data: HTTP 500"),
    ],
)
async def test_http_errors_never_show_the_key(
    snds_server: ThreadingHTTPServer, key: str, path: str, reason: str
) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(SndsError) as info:
            await fetch_snds(client, SndsConfig(key, base(snds_server, path)), "data")
    assert info.value.reason == reason
    assert KEY not in _everything_about(info.value)


async def test_connection_failure_never_shows_the_key() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Snds)
    port = server.server_address[1]
    server.server_close()  # nothing listens any more
    async with httpx.AsyncClient() as client:
        with pytest.raises(SndsError) as info:
            cfg = SndsConfig(KEY, f"http://127.0.0.1:{port}/snds/{KEY}/", timeout=2.0)
            await fetch_snds(client, cfg, "ipStatus")
    assert info.value.reason == "SNDS ipStatus: connection failed"
    assert KEY not in _everything_about(info.value)
