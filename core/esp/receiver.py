"""The webhook receiver: ``POST /hooks/{sendgrid,mailgun,ses}[/SUBUSER]`` -> verified,
parsed events -> the injected ``store`` port -> 2xx.

Exactly once: a 2xx is only sent after ``store(source, items)`` returned, and storage
deduplicates by event id in the same transaction, so an ESP retry (after a lost answer,
a 503, a crash) never counts twice and a failure never loses an event (503 -> the ESP
retries). Statuses: 401 bad or stale signature, 403 SNS topic not allowed, 400 bad JSON or
shape, 404 unknown path or a disabled ESP, 405 not POST, 413/411/431 from the HTTP layer,
503 storage (or an SNS confirmation) failed. No response or log line names a secret.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from opsconsole.core.esp.base import Engaged, EngagementKey, EspBatch, MessageIpIndex, decode_json
from opsconsole.core.esp.mailgun import mailgun_events
from opsconsole.core.esp.sendgrid import sendgrid_events
from opsconsole.core.esp.ses import SesAttribution, ses_events
from opsconsole.core.esp.verify import (
    CertSource,
    MailgunVerifier,
    ReplayGuard,
    SendgridVerifier,
    SnsVerifier,
    Verdict,
    is_sns_url,
)
from opsconsole.core.events import Clock, Event
from opsconsole.core.httpserve import HttpServer, Request, Response, ServerLimits, plain

log = logging.getLogger(__name__)

Store = Callable[[str, list[tuple[str, Event]], list[Engaged]], Awaitable[int]]
_SUBUSER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_STATUS = {Verdict.BAD_SIGNATURE: 401, Verdict.STALE: 401, Verdict.FORBIDDEN: 403}


class Confirmer(Protocol):
    async def confirm(self, url: str) -> None:
        """GET an SNS SubscribeURL (host-checked by the implementation)."""
        ...


@dataclass(frozen=True, slots=True)
class SendgridHook:
    public_key_b64: str  # base64 DER SubjectPublicKeyInfo, from SendGrid's settings page
    window: float = 300.0


@dataclass(frozen=True, slots=True)
class MailgunHook:
    signing_key: str  # the account's HTTP webhook signing key
    window: float = 300.0


@dataclass(frozen=True, slots=True)
class SesHook:
    allowed_topics: frozenset[str]  # TopicArns whose notifications are accepted
    attribution: SesAttribution = field(default_factory=SesAttribution)
    window: float = 3600.0  # SNS retries keep the original Timestamp


@dataclass(frozen=True, slots=True)
class ReceiverConfig:
    """An ESP left None is not served (404): nothing unsigned is ever accepted."""

    sendgrid: SendgridHook | None = None
    mailgun: MailgunHook | None = None
    ses: SesHook | None = None
    limits: ServerLimits = field(default_factory=ServerLimits)
    prefix: str = "/hooks"


@dataclass
class ReceiverStats:
    """Counts since start, for /metrics; only batches that were stored are counted."""

    accepted: int = 0  # requests answered 2xx
    stored_new: int = 0
    duplicates: int = 0
    ignored: int = 0
    suppressed: int = 0
    malformed: int = 0
    unattributed: int = 0
    replays: int = 0
    rejected: dict[int, int] = field(default_factory=dict)  # status -> requests
    engagement: dict[EngagementKey, int] = field(default_factory=dict)

    def engagement_total(self) -> int:
        return sum(self.engagement.values())

    def fold(self, batch: EspBatch, new: int) -> None:
        self.accepted += 1
        self.stored_new += new
        self.duplicates += len(batch.items) - new
        self.ignored += batch.ignored
        self.suppressed += batch.suppressed
        self.malformed += batch.malformed
        self.unattributed += batch.unattributed
        for key, n in batch.engagement.items():
            self.engagement[key] = self.engagement.get(key, 0) + n


class EspReceiver:
    """Route, verify, parse, store. ``certs``/``confirmer`` are needed only with SES."""

    def __init__(
        self,
        config: ReceiverConfig,
        store: Store,
        *,
        clock: Clock,
        certs: CertSource | None = None,
        confirmer: Confirmer | None = None,
        index: MessageIpIndex | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.index = index if index is not None else MessageIpIndex()
        self.stats = ReceiverStats()
        self._sendgrid = (
            SendgridVerifier(config.sendgrid.public_key_b64, config.sendgrid.window)
            if config.sendgrid
            else None
        )
        self._mailgun = (
            MailgunVerifier(config.mailgun.signing_key, config.mailgun.window)
            if config.mailgun
            else None
        )
        self._guard = ReplayGuard(config.mailgun.window if config.mailgun else 300.0)
        self._sns: SnsVerifier | None = None
        if config.ses is not None:
            if certs is None or confirmer is None:
                raise ValueError("SES needs a certificate source and a subscription confirmer")
            self._sns = SnsVerifier(certs, config.ses.allowed_topics, config.ses.window)
        self._confirmer = confirmer

    def server(self) -> HttpServer:
        return HttpServer(self.handle, self.config.limits)

    async def handle(self, req: Request) -> Response:
        resp = await self._route(req)
        if resp.status >= 300:
            self.stats.rejected[resp.status] = self.stats.rejected.get(resp.status, 0) + 1
            log.info("webhook %s %s -> %d", req.method, req.path[:80], resp.status)
        return resp

    async def _route(self, req: Request) -> Response:
        prefix = self.config.prefix.rstrip("/") + "/"
        if not req.path.startswith(prefix):
            return plain(404)
        esp, _, sub = req.path[len(prefix) :].partition("/")
        sub = sub.rstrip("/")
        if esp not in ("sendgrid", "mailgun", "ses") or (sub and not _SUBUSER.fullmatch(sub)):
            return plain(404)
        if getattr(self.config, esp) is None:
            return plain(404)
        if req.method != "POST":
            return Response(405, b"Method Not Allowed\n", headers={"Allow": "POST"})
        subuser = sub or None
        if esp == "sendgrid":
            return await self._on_sendgrid(req, subuser)
        if esp == "mailgun":
            return await self._on_mailgun(req, subuser)
        return await self._on_ses(req, subuser)

    async def _commit(self, source: str, batch: EspBatch) -> Response:
        if batch.invalid:
            return plain(400)
        try:
            new = (
                await self.store(source, batch.items, batch.engaged)
                if batch.items or batch.engaged
                else 0
            )
        except Exception as exc:  # the ESP retries on 5xx; storage dedups the retry
            log.warning("webhook store failed for %s: %s", source, type(exc).__name__)
            return plain(503)
        self.stats.fold(batch, new)
        return plain(200, "ok")

    async def _on_sendgrid(self, req: Request, subuser: str | None) -> Response:
        assert self._sendgrid is not None
        h = req.headers
        verdict = self._sendgrid.verify(
            h.get(SendgridVerifier.SIGNATURE_HEADER),
            h.get(SendgridVerifier.TIMESTAMP_HEADER),
            req.body,
            self.clock(),
        )
        if verdict is not Verdict.OK:
            return plain(_STATUS.get(verdict, 401))
        doc, ok = decode_json(req.body)
        if not ok:
            return plain(400)
        return await self._commit(
            "sendgrid", sendgrid_events(doc, subuser=subuser, index=self.index)
        )

    async def _on_mailgun(self, req: Request, subuser: str | None) -> Response:
        assert self._mailgun is not None
        doc, ok = decode_json(req.body)
        if not ok or not isinstance(doc, dict):
            return plain(400)
        now = self.clock()
        verdict, token = self._mailgun.verify(doc.get("signature"), now)
        if verdict is not Verdict.OK:
            return plain(_STATUS.get(verdict, 401))
        claim = self._guard.claim(token, now)
        if claim is Verdict.REPLAY:  # already stored once: acknowledge, store nothing
            self.stats.replays += 1
            return plain(200, "ok")
        if claim is Verdict.BUSY:
            return plain(503)
        resp = plain(503)
        try:
            resp = await self._commit("mailgun", mailgun_events(doc, subuser=subuser))
        finally:  # also when cancelled mid-store: the ESP's retry must be accepted
            if resp.status == 200:
                self._guard.commit(token)
            else:
                self._guard.release(token)
        return resp

    async def _on_ses(self, req: Request, subuser: str | None) -> Response:
        assert self._sns is not None and self.config.ses is not None
        doc, ok = decode_json(req.body)
        if not ok or not isinstance(doc, dict):
            return plain(400)
        verdict = await self._sns.verify(doc, self.clock())
        if verdict is not Verdict.OK:
            return plain(_STATUS.get(verdict, 401))
        mtype = doc.get("Type")
        if mtype == "SubscriptionConfirmation":
            return await self._confirm(doc)
        if mtype != "Notification":
            return plain(200, "ok")  # UnsubscribeConfirmation: nothing to do
        batch = ses_events(doc, attribution=self.config.ses.attribution, subuser=subuser)
        return await self._commit("ses", batch)

    async def _confirm(self, doc: dict[str, Any]) -> Response:
        assert self._confirmer is not None
        url = doc.get("SubscribeURL")
        if not is_sns_url(url):
            return plain(403)  # signed, yet pointing elsewhere: never fetched
        assert isinstance(url, str)
        try:
            await self._confirmer.confirm(url)
        except Exception as exc:  # SNS re-sends the confirmation on a 5xx
            log.warning("SNS subscription confirmation failed: %s", type(exc).__name__)
            return plain(503)
        log.info("SNS subscription confirmed for %s", str(doc.get("TopicArn"))[:200])
        return plain(200, "ok")
