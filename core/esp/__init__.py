"""ESP event webhooks (SendGrid, Mailgun, Amazon SES via SNS) as first-class sources.

Each format module holds one pure payload parser shared by the HTTP receiver
(:mod:`opsconsole.core.esp.receiver`) and the ``ingest --format`` line parser, so a saved
payload and a live POST give the same events.
"""

from __future__ import annotations

from opsconsole.core.esp.base import EspBatch, MessageIpIndex, PayloadLineParser
from opsconsole.core.esp.ses import SesAttribution

FORMATS = ("sendgrid", "mailgun", "ses")


def make_esp_parser(
    fmt: str, *, subuser: str | None = None, ses: SesAttribution | None = None
) -> PayloadLineParser:
    """A fresh line parser for saved payloads of ``fmt`` (one JSON document per line)."""
    if fmt == "sendgrid":
        from opsconsole.core.esp.sendgrid import SendgridParser

        return SendgridParser(subuser=subuser)
    if fmt == "mailgun":
        from opsconsole.core.esp.mailgun import MailgunParser

        return MailgunParser(subuser=subuser)
    if fmt == "ses":
        from opsconsole.core.esp.ses import SesParser

        return SesParser(ses, subuser=subuser)
    raise ValueError(f"unknown ESP format {fmt!r} (choose from {', '.join(FORMATS)})")


__all__ = ["FORMATS", "EspBatch", "MessageIpIndex", "PayloadLineParser", "make_esp_parser"]
