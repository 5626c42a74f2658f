"""Fixtures for the e2e tests: a real Postfix on loopback and its sink (postfix_testbed.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.postfix_testbed import PostfixTestbed, TestbedUnavailable, postfix_testbed_session


@pytest.fixture(scope="session")
def postfix_testbed() -> Iterator[PostfixTestbed]:
    """A running Postfix with transports ip2/ip3/ip4 (127.0.0.2-4) relaying to a truth sink.

    Session-scoped: tests share one Postfix. A test that calls ``restart_with()`` should
    restore ``SLASH_SYSLOG_NAMES`` when done; every test should ``reset_truth()`` first (or use
    a fresh log via ``restart_with``). Skips when not root, apt-get is missing or the install
    fails.
    """
    try:
        with postfix_testbed_session() as tb:
            yield tb
    except TestbedUnavailable as exc:
        pytest.skip(f"postfix testbed unavailable: {exc}")
