"""Pure parts of the email/PagerDuty/Alertmanager/Telegram notifiers: filters, mappings,
config validation, re-send cadence, and that the new core modules import no infrastructure."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsconsole.core.notify.alertmanager import AlertmanagerConfig, alert, labels, resend_due
from opsconsole.core.notify.common import NotifierConfig, accepts
from opsconsole.core.notify.email import EmailConfig, message_id, subject
from opsconsole.core.notify.kinds import build, recipients_for
from opsconsole.core.notify.pagerduty import PagerDutyConfig, event_action
from opsconsole.core.notify.sender import WebhookNotifier
from opsconsole.core.notify.telegram import TEXT_LIMIT, TelegramConfig, text

NOTIFY = Path(__file__).resolve().parents[2] / "core" / "notify"
NEW_MODULES = ("common", "email", "pagerduty", "alertmanager", "telegram", "grouping", "kinds")
FORBIDDEN = ("sqlalchemy", "sqlmodel", "aiosqlite", "textual", "opsconsole.settings")


def body(**kw: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "alert_id": "al-1",
        "rule": "bounce_rate",
        "severity": "warning",
        "state": "firing",
        "title": "t",
        "pool": "shared",
        "provider": "microsoft",
    }
    b.update(kw)
    return b


@pytest.mark.parametrize("module", NEW_MODULES)
def test_new_core_modules_import_no_infrastructure(module: str) -> None:
    tree = ast.parse((NOTIFY / f"{module}.py").read_text())
    names = [a.name for s in ast.walk(tree) if isinstance(s, ast.Import) for a in s.names]
    names += [s.module or "" for s in ast.walk(tree) if isinstance(s, ast.ImportFrom)]
    bad = [m for m in names for f in FORBIDDEN if m == f or m.startswith(f + ".")]
    bad += [m for m in names if m.startswith("opsconsole.") and not m.startswith("opsconsole.core")]
    assert bad == []


def test_accepts_severity_and_filters() -> None:
    everything = NotifierConfig(name="x")
    assert accepts(everything, body()) and accepts(everything, body(severity="info"))
    assert not accepts(NotifierConfig(name="x", min_severity="critical"), body())
    # A resolved notice keeps its alert's severity, so it follows its firing.
    assert accepts(NotifierConfig(name="x", min_severity="warning"), body(state="resolved"))
    only = NotifierConfig(name="x", rules=("bounce_rate",), pools=("shared", "p2"))
    assert accepts(only, body())
    assert not accepts(only, body(rule="complaint_rate"))
    assert not accepts(only, body(pool="p3"))
    assert not accepts(only, body(pool=None))  # fail closed on an unattributed notice
    assert not accepts(NotifierConfig(name="x", providers=("gmail",)), body())
    with pytest.raises(ValueError):
        NotifierConfig(name="x", min_severity="loud")


@pytest.mark.parametrize(
    ("state", "transition", "action"),
    [
        ("firing", "opened", "trigger"),
        ("firing", "escalated", "trigger"),
        ("firing", "rose", "trigger"),
        ("firing", None, "trigger"),
        ("acknowledged", "acknowledged", "acknowledge"),
        ("acknowledged", None, "acknowledge"),
        ("acknowledged", "escalated", "trigger"),
        ("resolved", "resolved", "resolve"),
        ("resolved", None, "resolve"),
    ],
)
def test_pagerduty_event_action(state: str, transition: str | None, action: str) -> None:
    assert event_action(body(state=state, transition=transition)) == action


def test_subject_and_message_id() -> None:
    assert subject(body(severity="critical")) == "[CRITICAL] t"
    assert subject(body(state="resolved")) == "[RESOLVED] t"
    assert subject(body(state="acknowledged")) == "[ACKNOWLEDGED] t"
    assert message_id(body(notice_id="n 1<x>"), "d.example") == "<n-1-x@d.example>"
    assert message_id(body(transition="rose"), "d.example") == "<al-1.rose@d.example>"


def test_configs_validate_and_hide_secrets() -> None:
    with pytest.raises(ValueError):
        EmailConfig(name="m", host="h", sender="a@b.c", to=())
    with pytest.raises(ValueError):
        EmailConfig(name="m", host="h", sender="a@b.c", to=("x@y.z",), tls="ssl")  # type: ignore[arg-type]  # bad on purpose
    assert EmailConfig(name="m", host="h", sender="a@b.c", to=("x@y.z",)).effective_port == 587
    assert "hunter2" not in repr(
        EmailConfig(name="m", host="h", sender="a@b.c", to=("x@y.z",), password="hunter2")
    )
    assert "k3y" not in repr(PagerDutyConfig(name="p", routing_key="k3y"))
    assert "t0k" not in repr(TelegramConfig(name="t", token="t0k", chat_id="1"))
    with pytest.raises(ValueError, match="resolve_timeout"):
        AlertmanagerConfig(name="a", url="http://am", resend_interval=200)
    assert AlertmanagerConfig(name="a", url="http://am").resend_interval == 60.0


def test_alertmanager_labels_and_times() -> None:
    b = body(ip="203.0.113.1", subuser="", host=None, timestamp="2026-03-02T10:05:00.000Z")
    assert labels(b) == {
        "alertname": "bounce_rate",
        "ip": "203.0.113.1",
        "provider": "microsoft",
        "pool": "shared",
        "severity": "warning",
    }
    # No opened_at: the notice time is the start (documented fallback).
    assert alert(b)["startsAt"] == "2026-03-02T10:05:00.000Z" and "endsAt" not in alert(b)
    resolved = alert(
        dict(b, state="resolved", opened_at="2026-03-02T09:00:00Z", resolved_at=1772445600.0)
    )
    assert resolved["startsAt"] == "2026-03-02T09:00:00.000Z"
    assert resolved["endsAt"] == "2026-03-02T10:00:00.000Z"


def test_resend_due() -> None:
    active = [body(alert_id="a"), body(alert_id="b"), body(alert_id="c"), body(alert_id="d")]
    active[3]["state"] = "resolved"
    last = {"a": 100.0, "b": 41.0, "d": 0.0}
    assert [x["alert_id"] for x in resend_due(active, last, 100.0, 60.0)] == ["c"]
    assert [x["alert_id"] for x in resend_due(active, last, 101.0, 60.0)] == ["b", "c"]
    assert [x["alert_id"] for x in resend_due(active, last, 160.0, 60.0)] == ["a", "b", "c"]


def test_telegram_text_escapes_and_fits() -> None:
    t = text(body(title="<b>x</b>", message="a & b " * 2000, value=0.5))
    assert t.startswith("<b>[WARNING] &lt;b&gt;x&lt;/b&gt;</b>\na &amp; b")
    assert len(t) <= TEXT_LIMIT
    assert t.endswith("…\nPool: shared\nProvider: microsoft\nRate: 50.00%")
    assert "&am…" not in t and "&amp…" not in t


def test_recipients_for_uses_filters_where_a_notifier_has_them() -> None:
    client = httpx.AsyncClient()
    notifiers = {
        "hook": WebhookNotifier("hook", "http://127.0.0.1:9/h", client, min_severity="warning"),
        "pd": build(
            "pagerduty", PagerDutyConfig(name="pd", routing_key="k", pools=("p2",)), client
        ),
        "tg": build("telegram", TelegramConfig(name="tg", token="t", chat_id="1"), client),
    }
    assert recipients_for(notifiers, body()) == ["hook", "tg"]
    assert recipients_for(notifiers, body(pool="p2", severity="info")) == ["pd", "tg"]
