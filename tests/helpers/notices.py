"""A notice body as the engine stores it in the outbox, for notifier tests."""

from __future__ import annotations

from typing import Any

from opsconsole.core.notify.payload import AlertNotice, webhook_body

OPENED = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def notice(
    alert_id: str = "al-1",
    *,
    state: str = "firing",
    transition: str | None = "opened",
    now: float = OPENED,
    **extra: Any,
) -> dict[str, Any]:
    body = webhook_body(
        AlertNotice(
            alert_id=alert_id,
            rule="bounce_rate",
            severity="critical",
            state=state,
            title="IP Blocked - High Bounce Rate",
            message="IP 203.0.113.7 removed: 550 5.7.1 <blocked> & rejected",
            ip="203.0.113.7",
            subuser="primary",
            value=0.18,
            sent=500,
            transition=transition,
            host="mx1",
        ),
        now,
    )
    body.update(pool="shared", provider="microsoft", opened_at=OPENED)
    body.update(extra)
    return body
