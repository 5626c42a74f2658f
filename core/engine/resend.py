"""Alertmanager forgets an alert it has not heard of within its resolve timeout: every
check, the leader re-posts each open alert to every Alertmanager notifier whose
``resend_interval`` has passed (one request per notifier). Best effort: a failure is
logged and tried again next check; the outbox still carries the transitions themselves."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from opsconsole.core.alerts import AlertState
from opsconsole.core.engine.check import notices
from opsconsole.core.notify.alertmanager import AlertmanagerNotifier, resend_due
from opsconsole.core.notify.sender import DeliveryError

log = logging.getLogger("opsconsole.notify")


class ActiveResender:
    def __init__(self) -> None:
        self.last_sent: dict[str, dict[str, float]] = {}  # notifier -> alert id -> when

    @staticmethod
    def wanted(notifiers: Mapping[str, Any]) -> bool:
        return any(isinstance(x, AlertmanagerNotifier) for x in notifiers.values())

    async def run(
        self,
        notifiers: Mapping[str, Any],
        open_alerts: Iterable[AlertState],
        host: str,
        window: float,
        now: float,
    ) -> int:
        """Re-post what is due; the number of alerts posted."""
        targets = {n: x for n, x in notifiers.items() if isinstance(x, AlertmanagerNotifier)}
        if not targets:
            return 0
        active = [a for a in open_alerts if a.state != "resolved"]
        # The outbox posted each alert when it opened (and on each transition): count the
        # interval from the latest of those, so a re-send never doubles a fresh notice.
        since = {a.id: max(a.opened_at, a.acknowledged_at or 0.0) for a in active}
        bodies = [
            n.body for n in notices(targets, [(a, "update") for a in active], host, window, now)
        ]
        sent = 0
        for name, notifier in targets.items():
            last = self.last_sent.setdefault(name, {})
            for alert_id, at in since.items():
                last.setdefault(alert_id, at)
            mine = [b for b in bodies if notifier.accepts(b)]
            due = resend_due(mine, last, now, notifier.resend_interval)
            if not due:
                continue
            try:
                await notifier.send_batch(due)
            except DeliveryError as e:
                log.warning("alertmanager %s: re-send failed: %s", name, e.reason)
                continue
            for b in due:
                last[str(b["alert_id"])] = now
            sent += len(due)
        return sent
