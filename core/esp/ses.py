"""Amazon SES notifications, delivered through an SNS envelope.

The SNS ``Notification`` envelope carries the SES message as a JSON *string* in ``Message``;
its ``notificationType`` (identity notifications) or ``eventType`` (configuration-set event
publishing) says what happened. One event per recipient:

- ``Delivery`` -> delivered; ``DeliveryDelay`` -> deferred;
- ``Bounce`` -> bounced. ``Permanent`` is hard when ``bounceSubType`` is ``NoEmail`` or the
  enhanced code says a list problem; ``Transient`` and ``Undetermined`` are soft bounces (SES
  has given up on the message; the reason is not the address). ``Suppressed`` and
  ``OnAccountSuppressionList`` never left SES and are counted as suppressed;
- ``Complaint`` -> complained; ``Open``/``Click`` -> engagement (one per event);
- ``Reject`` (SES refused to send, e.g. a virus) is suppressed; ``Send``, ``Rendering
  Failure``, ``Subscription`` are ignored.

Attribution: ``mail.sourceIp`` is the API/SMTP *client* that submitted the message, never
the egress IP, so it is not used. :class:`SesAttribution` maps a tag value that names an IP
(a custom tag set at send time) or the configuration set (``ses:configuration-set``; a set
tied to a dedicated pool of one IP) to the sending IP; otherwise the event is unattributed.

Event id: ``mail.messageId/recipient/type`` (the type spelled as SES spells it, so the same
bounce published both as identity notification and as configuration-set event is stored
once); a ``DeliveryDelay`` also appends its timestamp, as one recipient may be delayed often.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opsconsole.core.classify import enhanced_code, is_hard
from opsconsole.core.esp.base import (
    EspBatch,
    PayloadLineParser,
    decode_json,
    domain_of,
    iso_ts,
    text,
    valid_ip,
)
from opsconsole.core.events import Event, Kind

CONFIG_SET_TAG = "ses:configuration-set"
_SUPPRESSED_SUBTYPES = frozenset({"Suppressed", "OnAccountSuppressionList"})
# type -> (Kind, the key of the type's object, its recipients list key)
_OUTCOMES: dict[str, tuple[Kind, str, str]] = {
    "Delivery": (Kind.DELIVERED, "delivery", "recipients"),
    "Bounce": (Kind.BOUNCED, "bounce", "bouncedRecipients"),
    "Complaint": (Kind.COMPLAINED, "complaint", "complainedRecipients"),
    "DeliveryDelay": (Kind.DEFERRED, "deliveryDelay", "delayedRecipients"),
}
_ENGAGEMENT = {"Open": "open", "Click": "click"}


@dataclass(frozen=True, slots=True)
class SesAttribution:
    """How SES events find their sending IP and subuser (SES names neither)."""

    ip_by_config_set: Mapping[str, str] = field(default_factory=dict)
    ip_tags: tuple[str, ...] = ()  # tags whose first value is the sending IP, first wins
    subuser_by_config_set: Mapping[str, str] = field(default_factory=dict)

    def resolve(self, mail: Mapping[str, Any]) -> tuple[str | None, str | None]:
        tags = mail.get("tags")
        if not isinstance(tags, dict):
            tags = {}
        ip: str | None = None
        for name in self.ip_tags:
            ip = valid_ip(_first(tags.get(name)))
            if ip is not None:
                break
        cset = _first(tags.get(CONFIG_SET_TAG))
        if ip is None and cset:
            ip = valid_ip(self.ip_by_config_set.get(cset))
        return ip, (self.subuser_by_config_set.get(cset) if cset else None)


def _first(value: object) -> str:
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return value if isinstance(value, str) else ""


def parse_ses(
    body: bytes | str, *, attribution: SesAttribution | None = None, subuser: str | None = None
) -> EspBatch:
    """A saved SNS envelope or a bare SES message (the receiver verifies the envelope first
    and calls :func:`ses_events` on it)."""
    doc, ok = decode_json(body)
    if not ok:
        return EspBatch().reject(body if isinstance(body, str) else body[:300].decode("latin-1"))
    return ses_events(doc, attribution=attribution, subuser=subuser)


def ses_events(
    doc: Any, *, attribution: SesAttribution | None = None, subuser: str | None = None
) -> EspBatch:
    batch = EspBatch()
    if not isinstance(doc, dict):
        return batch.reject(doc)
    if "Type" in doc:
        if doc.get("Type") != "Notification":
            batch.ignored += 1  # subscription handshakes carry no mail events
            return batch
        inner, ok = decode_json(text(doc.get("Message")))
        if not ok or not isinstance(inner, dict):
            return batch.reject(doc)
        doc = inner
    try:
        _message(doc, batch, attribution or SesAttribution(), subuser)
    except Exception:  # never raise on input
        batch.bad(doc)
    return batch


def _message(
    msg: dict[str, Any], batch: EspBatch, attribution: SesAttribution, path_subuser: str | None
) -> None:
    etype = msg.get("eventType", msg.get("notificationType"))
    mail = msg.get("mail")
    if not isinstance(etype, str) or not isinstance(mail, dict):
        batch.bad(msg)
        return
    ip, cset_subuser = attribution.resolve(mail)
    subuser = path_subuser or cset_subuser
    eng = _ENGAGEMENT.get(etype)
    if eng is not None:
        detail = msg.get(etype.lower())
        stamp = text(detail.get("timestamp")) if isinstance(detail, dict) else ""
        mid = text(mail.get("messageId"))
        eid = f"{mid}/{etype}/{stamp}" if mid and stamp else None
        batch.engage(eng, ip, subuser, eid, iso_ts(stamp))
        return
    spec = _OUTCOMES.get(etype)
    if spec is None:
        if etype == "Reject":
            batch.suppressed += 1
        else:
            batch.ignored += 1
        return
    kind, key, rkey = spec
    body = msg.get(key)
    message_id = mail.get("messageId")
    if not isinstance(body, dict) or not isinstance(message_id, str) or not message_id:
        batch.bad(msg)
        return
    ts = iso_ts(body.get("timestamp"))
    recipients = body.get(rkey)
    if ts is None or not isinstance(recipients, list):
        batch.bad(msg)
        return
    category = ""
    if kind is Kind.BOUNCED:
        btype = text(body.get("bounceType"))
        category = text(body.get("bounceSubType"))
        if category in _SUPPRESSED_SUBTYPES:
            batch.suppressed += len(recipients)
            return
    elif kind is Kind.COMPLAINED:
        category = text(body.get("complaintFeedbackType"))
    elif kind is Kind.DEFERRED:
        category = text(body.get("delayType"))
    smtp = text(body.get("smtpResponse"))
    suffix = "/" + text(body.get("timestamp")) if kind is Kind.DEFERRED else ""
    for r in recipients:
        if isinstance(r, str):  # Delivery lists bare addresses
            rcpt, status, diag = r, enhanced_code(smtp), smtp
        elif isinstance(r, dict) and isinstance(r.get("emailAddress"), str):
            rcpt = r["emailAddress"]
            diag = text(r.get("diagnosticCode"))
            status = text(r.get("status")) or enhanced_code(diag)
        else:
            batch.bad(r)
            continue
        hard = (
            kind is Kind.BOUNCED
            and btype == "Permanent"
            and (category == "NoEmail" or is_hard(status))
        )
        ev = Event(ts, kind, ip, subuser, hard, domain_of(rcpt), status, diag)
        batch.add(f"{message_id}/{rcpt}/{etype}{suffix}", ev, category)


class SesParser(PayloadLineParser):
    """``ingest --format ses``: one saved SNS envelope (or bare SES message) per line."""

    format = "ses"

    def __init__(
        self, attribution: SesAttribution | None = None, subuser: str | None = None
    ) -> None:
        super().__init__()
        self.attribution = attribution or SesAttribution()
        self.subuser = subuser

    def parse(self, line: str) -> EspBatch:
        return parse_ses(line, attribution=self.attribution, subuser=self.subuser)
