"""ESP event webhooks (SendGrid, Mailgun, Amazon SES via SNS) as first-class sources.

Each format module holds one pure payload parser shared by the HTTP receiver
(:mod:`opsconsole.core.esp.receiver`) and the ``ingest --format`` line parser, so a saved
payload and a live POST give the same events.
"""

from __future__ import annotations

from opsconsole.core.esp.base import EspBatch, MessageIpIndex

FORMATS = ("sendgrid", "mailgun", "ses")

__all__ = ["FORMATS", "EspBatch", "MessageIpIndex"]
