"""ESP payload parsers: real-shaped payloads to exact events, counts and categories."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsconsole.core.esp.base import MessageIpIndex
from opsconsole.core.esp.mailgun import MailgunParser, parse_mailgun
from opsconsole.core.esp.sendgrid import SendgridParser, message_key, parse_sendgrid
from opsconsole.core.esp.ses import SesAttribution, SesParser, parse_ses
from opsconsole.core.events import Event, Kind
from tests.conftest import SAMPLES

D, B, F, C = Kind.DELIVERED, Kind.BOUNCED, Kind.DEFERRED, Kind.COMPLAINED
SHARED_SAMPLE = Path("sendgrid/events.json")


def _sample_path(samples_root: Path) -> Path:
    for root in (samples_root, Path("/work/shared/samples")):
        if (root / SHARED_SAMPLE).exists():
            return root / SHARED_SAMPLE
    pytest.skip("shared SendGrid sample not found")


def sg(event: str, **kw: object) -> dict[str, object]:
    rec: dict[str, object] = {"email": "a@Example.COM", "timestamp": 1_767_225_600, "event": event}
    rec.update(kw)
    return rec


SENDGRID_BATCH = [
    sg("processed", sg_event_id="p1", sg_message_id="AAA.filter1.1"),
    sg(
        "delivered",
        sg_event_id="e1",
        sg_message_id="AAA.filter1.2",
        ip="10.0.0.1",
        response="250 2.0.0 OK",
    ),
    sg(
        "deferred",
        sg_event_id="e2",
        sg_message_id="BBB.f.1",
        ip="10.0.0.2",
        response="421 4.7.0 try again later",
        attempt="1",
    ),
    sg(
        "bounce",
        sg_event_id="e3",
        sg_message_id="BBB.f.2",
        type="blocked",
        status="5.7.1",
        reason="550 5.7.1 blocked by policy",
        bounce_classification="Reputation",
    ),
    sg(
        "bounce",
        sg_event_id="e4",
        sg_message_id="CCC.f.1",
        ip="10.0.0.3",
        type="bounce",
        status="5.1.1",
        reason="550 5.1.1 no such user",
        bounce_classification="Invalid Address",
    ),
    sg("dropped", sg_event_id="e5", sg_message_id="DDD.f", reason="Bounced Address"),
    sg("spamreport", sg_event_id="e6", sg_message_id="AAA.filter9.9"),
    sg("open", sg_event_id="e7", sg_message_id="AAA.x", ip="203.0.113.9", useragent="UA"),
    sg("click", sg_event_id="e8", sg_message_id="ZZZ.x", ip="203.0.113.9", url="https://x"),
    sg("group_unsubscribe", sg_event_id="e9", sg_message_id="AAA.x", asm_group_id=1),
    sg("delivered", sg_message_id="EEE.x", ip="10.0.0.1"),  # no sg_event_id: malformed
    42,
]
TS = 1_767_225_600.0


def test_sendgrid_batch_exact() -> None:
    batch = parse_sendgrid(json.dumps(SENDGRID_BATCH), subuser="primary")
    assert batch.items == [
        ("e1", Event(TS, D, "10.0.0.1", "primary", False, "example.com", "2.0.0", "250 2.0.0 OK")),
        (
            "e2",
            Event(
                TS,
                F,
                "10.0.0.2",
                "primary",
                False,
                "example.com",
                "4.7.0",
                "421 4.7.0 try again later",
            ),
        ),
        (
            "e3",
            Event(
                TS,
                B,
                "10.0.0.2",
                "primary",
                False,
                "example.com",
                "5.7.1",
                "550 5.7.1 blocked by policy",
            ),
        ),
        (
            "e4",
            Event(
                TS, B, "10.0.0.3", "primary", True, "example.com", "5.1.1", "550 5.1.1 no such user"
            ),
        ),
        ("e6", Event(TS, C, "10.0.0.1", "primary", False, "example.com", "", "")),
    ]
    assert batch.categories == ["", "", "Reputation", "Invalid Address", ""]
    assert batch.engagement == {("open", "10.0.0.1", "primary"): 1, ("click", None, "primary"): 1}
    assert (batch.ignored, batch.suppressed, batch.malformed, batch.unattributed) == (2, 1, 2, 0)
    assert batch.invalid is False


def test_sendgrid_shared_sample() -> None:
    raw = _sample_path(SAMPLES).read_bytes()
    batch = parse_sendgrid(raw)
    assert batch.items == [
        (
            "rWVYmVk90MjZJ9iohOBa3w==",
            Event(1513299569.0, D, "168.1.1.1", None, False, "example.com", "", "250 OK"),
        ),
        (
            "6g4ZI7SA-xmRDv57GoPIPw==",
            Event(
                1513299569.0,
                B,
                "168.1.1.1",
                None,
                True,
                "example.com",
                "5.0.0",
                "500 unknown recipient",
            ),
        ),
    ]
    assert batch.categories == ["", "Invalid Address"]


def test_sendgrid_index_joins_across_payloads_and_is_bounded() -> None:
    index = MessageIpIndex(max_entries=2)
    parse_sendgrid(json.dumps([SENDGRID_BATCH[1]]), index=index)  # AAA -> 10.0.0.1
    later = parse_sendgrid(json.dumps([SENDGRID_BATCH[6]]), index=index)
    assert later.items[0][1].ip == "10.0.0.1"
    index.remember("X", "10.9.9.9", None)
    index.remember("Y", "10.9.9.8", None)
    assert len(index) == 2 and index.lookup("AAA") is None
    assert message_key("14c5d75ce93.dfd.64b469.filter0001") == "14c5d75ce93"


def test_sendgrid_line_parser_matches_payload_path() -> None:
    lines = [json.dumps(SENDGRID_BATCH[:5]), "", json.dumps(SENDGRID_BATCH[5:]), "not json"]
    parser = SendgridParser(subuser="primary")
    events = list(parser.feed(lines))
    direct = parse_sendgrid(json.dumps(SENDGRID_BATCH), subuser="primary")
    assert events == [ev for _, ev in direct.items]
    st = parser.stats
    assert (st.lines, st.events, st.ignored, st.malformed, st.unattributed) == (4, 5, 6, 3, 0)
    assert parser.suppressed == 1
    assert parser.engagement == {
        ("open", "10.0.0.1", "primary"): 1,
        ("click", None, "primary"): 1,
    }


@pytest.mark.parametrize(
    "body", [b"", b"\xff\xfe", b"{}", b"[" * 100_000, b'"x"', b"[1, null, []]", b"nul"]
)
def test_hostile_payloads_never_raise(body: bytes) -> None:
    for parse in (parse_sendgrid, parse_mailgun, parse_ses):
        batch = parse(body)
        assert batch.items == []


def mg(event: str, **kw: object) -> str:
    data: dict[str, object] = {
        "event": event,
        "id": f"mg-{event}-{kw.get('severity', '')}",
        "timestamp": 1_767_225_600.25,
        "recipient": "bob@Example.org",
        "envelope": {"sending-ip": "192.0.2.10", "targets": "bob@example.org"},
    }
    data.update(kw)
    sig = {"timestamp": "1767225600", "token": "t" * 50, "signature": "00"}
    return json.dumps({"signature": sig, "event-data": data})


PERM_MSG = "550 5.1.1 The email account does not exist"


def test_mailgun_exact() -> None:
    ts = 1_767_225_600.25
    perm = {
        "code": 550,
        "message": PERM_MSG,
        "description": "",
        "enhanced-code": "5.1.1",
    }
    temp = {"code": 421, "message": "421 Try again later", "description": "4.7.0 throttled"}
    lines = [
        mg("delivered", **{"delivery-status": {"code": 250, "message": "OK"}}),
        mg("failed", severity="permanent", reason="bounce", **{"delivery-status": perm}),
        mg("failed", severity="temporary", reason="generic", **{"delivery-status": temp}),
        mg("failed", severity="permanent", reason="suppress-bounce"),
        mg("complained"),
        mg("opened", ip="203.0.113.7"),
        mg("accepted"),
        mg("failed"),  # no severity: malformed
    ]
    got = [parse_mailgun(line, subuser="acct1") for line in lines]
    items = [it for b in got for it in b.items]
    assert items == [
        ("mg-delivered-", Event(ts, D, "192.0.2.10", "acct1", False, "example.org", "", "OK")),
        (
            "mg-failed-permanent",
            Event(ts, B, "192.0.2.10", "acct1", True, "example.org", "5.1.1", PERM_MSG),
        ),
        (
            "mg-failed-temporary",
            Event(
                ts, F, "192.0.2.10", "acct1", False, "example.org", "4.7.0", "421 Try again later"
            ),
        ),
        ("mg-complained-", Event(ts, C, "192.0.2.10", "acct1", False, "example.org", "", "")),
    ]
    assert [c for b in got for c in b.categories] == ["", "bounce", "generic", ""]
    assert sum(b.suppressed for b in got) == 1
    assert got[5].engagement == {("open", "192.0.2.10", "acct1"): 1}
    assert (got[6].ignored, got[7].malformed) == (1, 1)
    parser = MailgunParser(subuser="acct1")
    assert list(parser.feed(lines)) == [ev for _, ev in items]


def sns(message: Mapping[str, object]) -> str:
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "m",
            "TopicArn": "arn:t",
            "Message": json.dumps(message),
            "Timestamp": "2026-01-01T00:00:00.000Z",
        }
    )


MAIL = {
    "messageId": "0100-abc",
    "sourceIp": "198.51.100.1",
    "tags": {"ses:configuration-set": ["marketing"], "ses:source-ip": ["198.51.100.1"]},
}


def test_ses_exact() -> None:
    t = "2026-01-01T00:00:01.000Z"
    ts = 1_767_225_601.0
    msgs: list[dict[str, object]] = [
        {
            "notificationType": "Delivery",
            "mail": MAIL,
            "delivery": {
                "timestamp": t,
                "recipients": ["a@x.com", "b@y.com"],
                "smtpResponse": "250 2.6.0 Message received",
                "remoteMtaIp": "203.0.113.5",
            },
        },
        {
            "eventType": "Bounce",
            "mail": MAIL,
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "timestamp": t,
                "bouncedRecipients": [
                    {
                        "emailAddress": "c@z.com",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                ],
            },
        },
        {
            "eventType": "Bounce",
            "mail": MAIL,
            "bounce": {
                "bounceType": "Transient",
                "bounceSubType": "MailboxFull",
                "timestamp": t,
                "bouncedRecipients": [{"emailAddress": "d@z.com", "status": "5.2.2"}],
            },
        },
        {
            "eventType": "Bounce",
            "mail": MAIL,
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "Suppressed",
                "timestamp": t,
                "bouncedRecipients": [{"emailAddress": "e@z.com"}],
            },
        },
        {
            "notificationType": "Complaint",
            "mail": MAIL,
            "complaint": {
                "timestamp": t,
                "complaintFeedbackType": "abuse",
                "complainedRecipients": [{"emailAddress": "f@q.com"}],
            },
        },
        {
            "eventType": "DeliveryDelay",
            "mail": MAIL,
            "deliveryDelay": {
                "timestamp": t,
                "delayType": "MailboxFull",
                "delayedRecipients": [{"emailAddress": "g@q.com", "status": "4.2.2"}],
            },
        },
        {"eventType": "Open", "mail": MAIL, "open": {"ipAddress": "203.0.113.77"}},
        {"eventType": "Send", "mail": MAIL, "send": {}},
        {"eventType": "Reject", "mail": MAIL, "reject": {"reason": "Bad content"}},
    ]
    attribution = SesAttribution(
        ip_by_config_set={"marketing": "198.18.0.7"}, subuser_by_config_set={"marketing": "mkt"}
    )
    parser = SesParser(attribution)
    batches = list(parser.feed_batches([sns(m) for m in msgs]))
    items = [it for b in batches for it in b.items]
    ip, su = "198.18.0.7", "mkt"
    assert items == [
        (
            "0100-abc/a@x.com/Delivery",
            Event(ts, D, ip, su, False, "x.com", "2.6.0", "250 2.6.0 Message received"),
        ),
        (
            "0100-abc/b@y.com/Delivery",
            Event(ts, D, ip, su, False, "y.com", "2.6.0", "250 2.6.0 Message received"),
        ),
        (
            "0100-abc/c@z.com/Bounce",
            Event(ts, B, ip, su, True, "z.com", "5.1.1", "smtp; 550 5.1.1 user unknown"),
        ),
        ("0100-abc/d@z.com/Bounce", Event(ts, B, ip, su, False, "z.com", "5.2.2", "")),
        ("0100-abc/f@q.com/Complaint", Event(ts, C, ip, su, False, "q.com", "", "")),
        (f"0100-abc/g@q.com/DeliveryDelay/{t}", Event(ts, F, ip, su, False, "q.com", "4.2.2", "")),
    ]
    assert [c for b in batches for c in b.categories] == [
        "",
        "",
        "General",
        "MailboxFull",
        "abuse",
        "MailboxFull",
    ]
    assert parser.engagement == {("open", ip, su): 1}
    assert (parser.suppressed, parser.stats.ignored, parser.stats.malformed) == (2, 4, 0)
    # Without a map SES events are unattributed: mail.sourceIp is the submitting client.
    bare = parse_ses(sns(msgs[0]))
    assert [ev.ip for _, ev in bare.items] == [None, None] and bare.unattributed == 2
    tagged = parse_ses(
        sns(msgs[0]), attribution=SesAttribution(ip_tags=("ses:source-ip",)), subuser="path"
    )
    assert [(ev.ip, ev.subuser) for _, ev in tagged.items] == [("198.51.100.1", "path")] * 2


def test_make_esp_parser_conforms_to_parser_protocol() -> None:
    from opsconsole.core.esp import make_esp_parser
    from opsconsole.core.sources.base import Parser

    for fmt in ("sendgrid", "mailgun", "ses"):
        parser: Parser = make_esp_parser(fmt)
        assert parser.format == fmt and parser.get_state() == {}
    with pytest.raises(ValueError, match="unknown ESP format"):
        make_esp_parser("postfix")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=10,
)
_KEYS = st.sampled_from(
    [
        "event",
        "timestamp",
        "sg_event_id",
        "ip",
        "type",
        "status",
        "event-data",
        "severity",
        "Type",
        "Message",
        "mail",
        "eventType",
        "bounce",
        "recipients",
        "delivery",
    ]
)
_RECORD = st.dictionaries(_KEYS, _JSON, max_size=8)


@settings(max_examples=100, deadline=None)
@given(st.lists(_RECORD, max_size=4) | _RECORD | _JSON)
def test_parsers_never_raise_on_any_json(doc: object) -> None:
    body = json.dumps(doc)
    for batch in (parse_sendgrid(body), parse_mailgun(body), parse_ses(body)):
        assert len(batch.items) == len(batch.categories)
        assert all(isinstance(eid, str) and eid for eid, _ in batch.items)
