"""The email notifier against a real SMTP relay on 127.0.0.1 (aiosmtpd): STARTTLS and
implicit TLS with a CA and certificate generated per test session, AUTH PLAIN, plain SMTP,
and the SMTP reply classes. PagerDuty, Alertmanager and Telegram are in
test_notifiers_http.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from opsconsole.core.notify.email import EmailConfig
from opsconsole.core.notify.kinds import build
from opsconsole.core.notify.sender import DeliveryError, Notifier
from tests.helpers.notices import notice
from tests.helpers.smtp_relay import Certificates, SmtpRelay, free_port, make_certificates

PASSWORD = "pw-S3CRET-smtp-4711"


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


def email_config(relay: SmtpRelay, certs: Certificates, **kw: Any) -> EmailConfig:
    base: dict[str, Any] = {
        "name": "mail",
        "host": "127.0.0.1",
        "port": relay.port,
        "tls": relay.mode,
        "sender": "opsconsole@ops.example",
        "to": ("oncall@ops.example", "lead@ops.example"),
        "ca_file": str(certs.ca_file),
        "timeout": 5.0,
        # An explicit EHLO name: the default (socket.getfqdn) may ask a DNS server.
        "local_hostname": "opsconsole.test",
    }
    base.update(kw)
    return EmailConfig(**base)


def mailer(config: EmailConfig) -> Notifier:
    return build("email", config, httpx.AsyncClient())  # email never uses the client


PLAIN = """[CRITICAL] IP Blocked - High Bounce Rate

IP 203.0.113.7 removed: 550 5.7.1 <blocked> & rejected

Rule: bounce_rate
IP: 203.0.113.7
Subuser: primary
Pool: shared
Provider: microsoft
Value: 18.00%
Sent: 500
State: firing
Alert: al-1
Host: mx1
Time: 2023-11-14T22:13:20.000Z
"""


# --- email ------------------------------------------------------------------------------


async def test_email_starttls_with_auth_plain(certs: Certificates) -> None:
    with SmtpRelay("starttls", certs, users={"ops": PASSWORD}) as relay:
        await mailer(email_config(relay, certs, username="ops", password=PASSWORD)).send(notice())
    assert relay.auth_attempts == [("PLAIN", "ops", True)]
    (got,) = relay.delivered
    assert got.login == "ops" and got.helo == "opsconsole.test"
    assert got.mail_from == "opsconsole@ops.example"
    assert got.rcpt_tos == ["oncall@ops.example", "lead@ops.example"]
    m = got.message
    assert m["Subject"] == "[CRITICAL] IP Blocked - High Bounce Rate"
    assert m["From"] == "opsconsole@ops.example"
    assert m["To"] == "oncall@ops.example, lead@ops.example"
    assert m["Message-ID"] == "<al-1.opened.1700000000000@ops.example>"
    assert m["Date"] == "Tue, 14 Nov 2023 22:13:20 +0000"
    assert m["Auto-Submitted"] == "auto-generated"
    assert m.get_content_type() == "multipart/alternative"
    plain = m.get_body(("plain",))
    html = m.get_body(("html",))
    assert plain is not None and html is not None
    # SMTP carries CRLF line ends; compare the text.
    assert plain.get_content().replace("\r\n", "\n") == PLAIN
    assert html.get_content().replace("\r\n", "\n") == (
        "<!DOCTYPE html>\n<html><body>\n"
        "<h2>[CRITICAL] IP Blocked - High Bounce Rate</h2>\n"
        "<p>IP 203.0.113.7 removed: 550 5.7.1 &lt;blocked&gt; &amp; rejected</p>\n<table>\n"
        + "\n".join(
            f'<tr><th align="left">{k}</th><td>{v}</td></tr>'
            for k, v in (
                ("Rule", "bounce_rate"),
                ("IP", "203.0.113.7"),
                ("Subuser", "primary"),
                ("Pool", "shared"),
                ("Provider", "microsoft"),
                ("Value", "18.00%"),
                ("Sent", "500"),
                ("State", "firing"),
                ("Alert", "al-1"),
                ("Host", "mx1"),
                ("Time", "2023-11-14T22:13:20.000Z"),
            )
        )
        + "\n</table>\n</body></html>\n"
    )


async def test_email_implicit_tls_resolved_with_notice_id(certs: Certificates) -> None:
    body = notice(state="resolved", transition="resolved", notice_id="n-42", title="a\r\nBcc: x")
    with SmtpRelay("implicit", certs) as relay:
        await mailer(email_config(relay, certs)).send(body)
    (got,) = relay.delivered
    assert got.login is None
    # A CR/LF in the title (it comes from log text) cannot add a header.
    assert got.message["Subject"] == "[RESOLVED] a Bcc: x"
    assert got.message["Bcc"] is None
    assert got.message["Message-ID"] == "<n-42@ops.example>"


async def test_email_plain_smtp_to_local_relay(certs: Certificates) -> None:
    with SmtpRelay("none") as relay:
        await mailer(email_config(relay, certs, tls="none", ca_file=None)).send(notice())
    assert [d.message["Subject"] for d in relay.delivered] == [
        "[CRITICAL] IP Blocked - High Bounce Rate"
    ]


async def test_email_verifies_the_certificate_by_default(certs: Certificates) -> None:
    with SmtpRelay("implicit", certs) as relay:
        with pytest.raises(DeliveryError) as e:
            await mailer(email_config(relay, certs, ca_file=None)).send(notice())
        assert relay.delivered == []
    assert "CERTIFICATE_VERIFY_FAILED" in e.value.reason
    # The test-only switch turns verification off.
    with SmtpRelay("implicit", certs) as relay:
        await mailer(email_config(relay, certs, ca_file=None, tls_verify=False)).send(notice())
        assert len(relay.delivered) == 1


async def test_email_wrong_password_is_permanent_and_secret(certs: Certificates) -> None:
    with SmtpRelay("starttls", certs, users={"ops": "the-right-one"}) as relay:
        cfg = email_config(relay, certs, username="ops", password=PASSWORD)
        with pytest.raises(DeliveryError) as e:
            await mailer(cfg).send(notice())
    # aiosmtplib tries each mechanism the relay offers before giving up.
    assert relay.auth_attempts == [("PLAIN", "ops", False), ("LOGIN", "ops", False)]
    assert e.value.retryable is False
    assert e.value.reason.startswith(f"smtp://127.0.0.1:{relay.port}: login refused: 535")
    assert PASSWORD not in str(e.value) and PASSWORD not in repr(cfg)


@pytest.mark.parametrize(
    ("where", "reply", "retryable"),
    [
        ("rcpt", "550 5.1.1 no such user", False),
        ("rcpt", "451 4.3.0 try again later", True),
        ("data", "554 5.7.1 rejected as spam", False),
        ("data", "452 4.3.1 insufficient storage", True),
    ],
)
async def test_email_smtp_reply_classes(
    certs: Certificates, where: str, reply: str, retryable: bool
) -> None:
    with SmtpRelay("starttls", certs) as relay:
        setattr(relay, f"{where}_reply", reply)
        with pytest.raises(DeliveryError) as e:
            await mailer(email_config(relay, certs)).send(notice())
    assert e.value.retryable is retryable
    assert reply.split()[0] in e.value.reason


async def test_email_connection_refused_is_retryable(certs: Certificates) -> None:
    cfg = EmailConfig(
        name="mail",
        host="127.0.0.1",
        port=free_port(),
        sender="a@ops.example",
        to=("b@ops.example",),
        username="ops",
        password=PASSWORD,
        timeout=2.0,
        local_hostname="opsconsole.test",
    )
    with pytest.raises(DeliveryError) as e:
        await mailer(cfg).send(notice())
    assert e.value.retryable is True
    assert PASSWORD not in str(e.value)


def test_email_config_refuses_a_password_in_clear() -> None:
    with pytest.raises(ValueError, match="without TLS"):
        EmailConfig(name="m", host="h", sender="a@b.c", to=("d@e.f",), tls="none", password="x")
