"""SendGrid Event Webhook payloads: a JSON array of event objects.

Mapping: ``delivered`` -> delivered; ``bounce`` -> bounced (``type`` ``bounce``: hard when
``bounce_classification`` or ``status`` says a list problem; ``type`` ``blocked``: always
soft, a reputation block is exactly what we watch); ``deferred`` -> deferred;
``spamreport`` -> complained. ``dropped`` is *suppressed*, not a bounce: SendGrid never
handed the message to any IP (suppression list, invalid address), so charging it to an IP
would invent a reputation problem. ``processed``, unsubscribes and account events are
ignored; ``open``/``click`` are engagement.

Attribution: ``ip`` is the sending IP on delivery events only (on open/click it is the
reader's IP and is never used). Events without one join on the ``sg_message_id`` prefix
(before the first ``.``) to an earlier event of the message through :class:`MessageIpIndex`.
SendGrid events carry no sub-account field (each subuser configures its own webhook URL),
so the subuser comes from the path suffix (``/hooks/sendgrid/primary``) or is None.
Event id: ``sg_event_id``; an outcome record without one is malformed (it cannot be deduped).
"""

from __future__ import annotations

from typing import Any

from opsconsole.core.classify import enhanced_code, is_hard
from opsconsole.core.esp.base import (
    EspBatch,
    MessageIpIndex,
    PayloadLineParser,
    decode_json,
    domain_of,
    number_ts,
    text,
    valid_ip,
)
from opsconsole.core.events import Event, Kind

_OUTCOMES = {
    "delivered": Kind.DELIVERED,
    "bounce": Kind.BOUNCED,
    "deferred": Kind.DEFERRED,
    "spamreport": Kind.COMPLAINED,
}
_ENGAGEMENT = {"open": "open", "click": "click"}
_SUPPRESSED = frozenset({"dropped"})


def message_key(sg_message_id: object) -> str:
    """``14c5d75ce93.dfd.64b469.filter0001...`` -> ``14c5d75ce93``: the part every event
    of one message shares (the suffix names the filter/processing stage)."""
    return sg_message_id.partition(".")[0] if isinstance(sg_message_id, str) else ""


def parse_sendgrid(
    body: bytes | str, *, subuser: str | None = None, index: MessageIpIndex | None = None
) -> EspBatch:
    """Parse one raw SendGrid POST body (or saved payload)."""
    doc, ok = decode_json(body)
    if not ok:
        return EspBatch().reject(body if isinstance(body, str) else body[:300].decode("latin-1"))
    return sendgrid_events(doc, subuser=subuser, index=index)


def sendgrid_events(
    doc: Any, *, subuser: str | None = None, index: MessageIpIndex | None = None
) -> EspBatch:
    """Events from a decoded payload; ``index`` joins IP-less events to their message."""
    batch = EspBatch()
    if not isinstance(doc, list):
        return batch.reject(doc)
    if index is None:
        index = MessageIpIndex(max_entries=len(doc) + 1)  # joins within this payload only
    for rec in doc:
        try:
            _one(rec, batch, subuser, index)
        except Exception:  # never raise on input
            batch.bad(rec)
    return batch


def _one(rec: Any, batch: EspBatch, path_subuser: str | None, index: MessageIpIndex) -> None:
    if not isinstance(rec, dict):
        batch.bad(rec)
        return
    name = rec.get("event")
    if not isinstance(name, str):
        batch.bad(rec)
        return
    kind = _OUTCOMES.get(name)
    eng = _ENGAGEMENT.get(name)
    if kind is None and eng is None:
        if name in _SUPPRESSED:
            batch.suppressed += 1
        else:
            batch.ignored += 1
        return
    msg = message_key(rec.get("sg_message_id"))
    if eng is not None:
        hit = index.lookup(msg) if msg else None
        ip, sub = hit if hit is not None else (None, path_subuser)
        batch.engage(
            eng, ip, path_subuser or sub, rec.get("sg_event_id"), number_ts(rec.get("timestamp"))
        )
        return
    ts = number_ts(rec.get("timestamp"))
    event_id = rec.get("sg_event_id")
    if kind is None or ts is None or not isinstance(event_id, str) or not event_id:
        batch.bad(rec)
        return

    subuser = path_subuser
    ip = valid_ip(rec.get("ip")) if kind is not Kind.COMPLAINED else None
    if ip is not None:
        if msg:
            index.remember(msg, ip, subuser)
    elif msg:
        hit = index.lookup(msg)
        if hit is not None:
            ip = hit[0]
            subuser = subuser or hit[1]

    hard = False
    category = ""
    if kind is Kind.BOUNCED:
        diag = text(rec.get("reason"))
        status = text(rec.get("status")) or enhanced_code(diag)
        category = text(rec.get("bounce_classification"))
        if rec.get("type") != "blocked":
            hard = is_hard(status, category or None)
    else:
        diag = text(rec.get("response"))
        status = enhanced_code(diag)
    ev = Event(ts, kind, ip, subuser, hard, domain_of(rec.get("email")), status, diag)
    batch.add(event_id, ev, category)


class SendgridParser(PayloadLineParser):
    """``ingest --format sendgrid``: one saved payload (a JSON array) per line."""

    format = "sendgrid"

    def __init__(self, subuser: str | None = None, index: MessageIpIndex | None = None) -> None:
        super().__init__()
        self.subuser = subuser
        self.index = index if index is not None else MessageIpIndex()

    def parse(self, line: str) -> EspBatch:
        return parse_sendgrid(line, subuser=self.subuser, index=self.index)
