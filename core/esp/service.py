"""The webhook receiver as an engine :class:`~opsconsole.core.engine.loop.Service`.

Every engine process with ``[webhooks] listen`` receives, leader or follower: writes are
idempotent by event id (the database's primary key decides, in the batch's transaction),
so two engines behind one load balancer, or a follower answering while the leader is
busy, can never count an event twice; and a follower that refused would only make the
ESP retry. Only the *reading of log files* needs the lease; webhook POSTs do not.
"""

from __future__ import annotations

import ipaddress
import logging

import httpx

from opsconsole.core.esp.receiver import EspReceiver, ReceiverConfig, Store
from opsconsole.core.esp.verify import HttpCertSource, HttpConfirmer
from opsconsole.core.events import Clock
from opsconsole.core.httpserve import HttpServer

log = logging.getLogger("opsconsole.webhooks")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class WebhookService:
    def __init__(
        self,
        config: ReceiverConfig,
        store: Store,
        listen: str,
        *,
        clock: Clock,
        sns_origin: str | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.listen = listen
        self.clock = clock
        self.sns_origin = sns_origin
        self.receiver: EspReceiver | None = None
        self.port: int | None = None
        self._server: HttpServer | None = None
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        host, _, port = self.listen.rpartition(":")
        host = host.strip("[]")
        self._client = httpx.AsyncClient(timeout=10.0, trust_env=False)
        self.receiver = EspReceiver(
            self.config,
            self.store,
            clock=self.clock,
            certs=HttpCertSource(self._client, origin=self.sns_origin),
            confirmer=HttpConfirmer(self._client, origin=self.sns_origin),
        )
        if not is_loopback(host):
            log.warning(
                "webhook receiver listens on %s, beyond loopback: put TLS (a reverse proxy)"
                " in front of it",
                self.listen,
            )
        server = self.receiver.server()
        try:
            await server.start(host, int(port))
        except OSError as e:  # a busy port is one warning; the engine runs on
            log.warning("webhook receiver %s not started: %s", self.listen, e)
            return
        self._server = server
        self.port = server.port
        served = [n for n in ("sendgrid", "mailgun", "ses") if getattr(self.config, n)]
        log.info("webhook receiver on %s:%s for %s", host, self.port, ", ".join(served) or "none")

    async def after_check(self, now: float) -> None:
        return None

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()
            self._server = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
