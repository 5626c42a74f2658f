"""Mailgun webhook payloads: one event per POST, ``{"signature": {...}, "event-data": {...}}``.

Mapping: ``delivered`` -> delivered; ``failed`` with ``severity`` ``permanent`` -> bounced
(hard per the enhanced code), ``temporary`` -> deferred; ``complained`` -> complained;
``opened``/``clicked`` -> engagement. A permanent failure whose ``reason`` starts with
``suppress-`` (the address was on a suppression list) never left Mailgun and is counted as
suppressed, like SendGrid's ``dropped``. Everything else (accepted, unsubscribed, stored,
rejected by Mailgun itself) is ignored.

Attribution: ``envelope.sending-ip``. Subuser: the path suffix (Mailgun events carry no
sub-account field). Event id: ``event-data.id``. Category: ``reason`` (bounce, generic, ...).
A saved payload may also be a bare ``event-data`` object.
"""

from __future__ import annotations

from typing import Any

from opsconsole.core.classify import enhanced_code, is_hard
from opsconsole.core.esp.base import (
    EspBatch,
    PayloadLineParser,
    decode_json,
    domain_of,
    number_ts,
    text,
    valid_ip,
)
from opsconsole.core.events import Event, Kind

_SIMPLE = {"delivered": Kind.DELIVERED, "complained": Kind.COMPLAINED}
_ENGAGEMENT = {"opened": "open", "clicked": "click"}


def parse_mailgun(body: bytes | str, *, subuser: str | None = None) -> EspBatch:
    doc, ok = decode_json(body)
    if not ok:
        return EspBatch().reject(body if isinstance(body, str) else body[:300].decode("latin-1"))
    return mailgun_events(doc, subuser=subuser)


def mailgun_events(doc: Any, *, subuser: str | None = None) -> EspBatch:
    """Events from a decoded webhook document (or a bare ``event-data`` object)."""
    batch = EspBatch()
    if not isinstance(doc, dict):
        return batch.reject(doc)
    data = doc.get("event-data", doc if "event" in doc else None)
    if not isinstance(data, dict):
        return batch.reject(doc)
    try:
        _one(data, batch, subuser)
    except Exception:  # never raise on input
        batch.bad(data)
    return batch


def _one(data: dict[str, Any], batch: EspBatch, subuser: str | None) -> None:
    name = data.get("event")
    if not isinstance(name, str):
        batch.bad(data)
        return
    eng = _ENGAGEMENT.get(name)
    envelope = data.get("envelope")
    ip = valid_ip(envelope.get("sending-ip")) if isinstance(envelope, dict) else None
    if eng is not None:
        batch.engage(eng, ip, subuser, data.get("id"), number_ts(data.get("timestamp")))
        return
    kind = _SIMPLE.get(name)
    reason = text(data.get("reason"))
    if name == "failed":
        severity = data.get("severity")
        if severity == "permanent":
            if reason.startswith("suppress-"):
                batch.suppressed += 1
                return
            kind = Kind.BOUNCED
        elif severity == "temporary":
            kind = Kind.DEFERRED
        else:
            batch.bad(data)
            return
    if kind is None:
        batch.ignored += 1
        return
    ts = number_ts(data.get("timestamp"))
    event_id = data.get("id")
    if ts is None or not isinstance(event_id, str) or not event_id:
        batch.bad(data)
        return
    status = diag = ""
    ds = data.get("delivery-status")
    if isinstance(ds, dict):
        diag = text(ds.get("message")) or text(ds.get("description"))
        status = text(ds.get("enhanced-code")) or enhanced_code(diag)
        if not status:
            status = enhanced_code(text(ds.get("description")))
    rcpt = data.get("recipient")
    domain = text(data.get("recipient-domain")).lower() or domain_of(rcpt)
    hard = kind is Kind.BOUNCED and is_hard(status)
    batch.add(event_id, Event(ts, kind, ip, subuser, hard, domain, status, diag), reason)


class MailgunParser(PayloadLineParser):
    """``ingest --format mailgun``: one saved webhook document per line."""

    format = "mailgun"

    def __init__(self, subuser: str | None = None) -> None:
        super().__init__()
        self.subuser = subuser

    def parse(self, line: str) -> EspBatch:
        return parse_mailgun(line, subuser=self.subuser)
