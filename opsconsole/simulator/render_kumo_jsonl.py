"""KumoMTA JSON log lines and the project's own JSON lines."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from opsconsole.core.events import Event, Kind
from opsconsole.simulator.render_base import _KIND_NAMES, _SIZES, _render_iter, _Renderer
from opsconsole.simulator.scenario import Scenario
from opsconsole.simulator.texts import _CATEGORY, _TEXTS
from opsconsole.simulator.truth import Truth


class _KumoRenderer(_Renderer):
    fmt = "kumo"

    def __init__(
        self,
        scenario: Scenario | None,
        seed: int,
        truth: Truth | None,
        no_source_address: float = 0.15,
    ) -> None:
        super().__init__(scenario, seed, truth)
        self.no_source_address = no_source_address
        self._resp_cache: dict[str, str] = {}

    def _response(self, diag: str, status: str) -> str:
        r = self._resp_cache.get(diag)
        if r is None:
            code = int(diag[:3]) if diag[:3].isdigit() else 0
            content = diag[4:] if len(diag) > 4 and diag[3] in " -" else diag
            if status and content.startswith(status + " "):
                content = content[len(status) + 1 :]  # parsed out into enhanced_code
            if status:
                c, s, d = status.split(".")
                enh = f'{{"class":{c},"subject":{s},"detail":{d}}}'
            else:
                enh = "null"
            cmd = "."
            if code >= 400:
                cmd = "MAIL FROM" if code == 421 or status.startswith("5.7.") else "RCPT TO"
            r = (
                f'{{"code":{code},"enhanced_code":{enh},"content":{json.dumps(content)},'
                f'"command":"{cmd}"}}'
            )
            self._resp_cache[diag] = r
        return r

    def render(self, events: Iterable[Event]) -> list[str]:
        lines: list[str] = []
        out = lines.append
        rnd = self.rng.random
        getbits = self.rng.getrandbits
        by_ip = self.by_ip
        domain = self.domain
        count = self.count
        ip_map = self.ip_map
        nosrc = self.no_source_address
        n_sizes = len(_SIZES)
        for ev in events:
            ts, kind, ip, sub, hard, dom_name, status, diag = ev[:8]
            p = by_ip.get(ip) if ip else None
            dom = domain(dom_name)
            tenant = sub
            meta = f'{{"tenant":{json.dumps(tenant)}}}' if tenant else "{}"
            pool = json.dumps(p.pool) if p and p.pool else "null"
            source = json.dumps(p.kumo_source) if p else "null"
            rcpt = f"u{getbits(28):07x}@{dom_name}"
            sender = f"bounces@{tenant or 'acme'}.example"
            sec = int(ts)
            mid = f"{getbits(128):032x}"
            size = _SIZES[int(rnd() * n_sizes)]
            with_src = ip is not None and kind != Kind.COMPLAINED and rnd() >= nosrc
            if kind == Kind.COMPLAINED:
                fb_fmt = "jmrp" if dom.family == "microsoft" else "arf"
                fb = (
                    f'{{"feedback_type":"abuse","user_agent":"{dom.family}-fbl/1.0",'
                    f'"version":"1","arrival_date":{sec},"source_ip":{json.dumps(ip)},'
                    f'"original_mail_from":"{sender}","original_rcpt_to":"{rcpt}",'
                    f'"reporting_mta":"dns; {dom.mx}","format":"{fb_fmt}"}}'
                )
                line = (
                    f'{{"type":"Feedback","id":"{mid}","sender":"{sender}",'
                    f'"recipient":"{rcpt}","queue":"{dom_name}","site":"","size":{size},'
                    f'"response":{{"code":250,"enhanced_code":null,"content":"","command":null}},'
                    f'"peer_address":null,"timestamp":{sec},"created":{sec},"num_attempts":0,'
                    f'"bounce_classification":"Uncategorized","egress_pool":{pool},'
                    f'"egress_source":{source},"feedback_report":{fb},"meta":{meta},'
                    f'"headers":{{}}}}'
                )
            else:
                if kind == Kind.DELIVERED:
                    typ_name, attempts, cls = "Delivery", 0, "Uncategorized"
                    resp = self._response(_TEXTS.get(dom.family, _TEXTS["generic"])["ok"], "2.0.0")
                else:
                    if kind == Kind.BOUNCED:
                        typ_name, attempts = "Bounce", 1
                    else:
                        typ_name, attempts = "TransientFailure", 1 + int(rnd() * 3)
                    cls = _CATEGORY[self.classify(status, diag)][1]
                    resp = self._response(diag, status)
                src = (
                    f',"source_address":{{"address":"{ip}:{1024 + int(rnd() * 64000)}",'
                    f'"protocol":"tcp"}}'
                    if with_src
                    else ""
                )
                line = (
                    f'{{"type":"{typ_name}","id":"{mid}","sender":"{sender}",'
                    f'"recipient":"{rcpt}","queue":"{dom_name}","site":"{dom.mx}:25",'
                    f'"size":{size},"response":{resp},'
                    f'"peer_address":{{"name":"{dom.mx}","addr":"{dom.mx_ip}"}},'
                    f'"timestamp":{sec},"created":{sec - attempts * 300},'
                    f'"num_attempts":{attempts},"bounce_classification":"{cls}",'
                    f'"egress_pool":{pool},"egress_source":{source}{src},'
                    f'"feedback_report":null,"meta":{meta},"headers":{{}}}}'
                )
            attributed = ip if with_src else (ip_map.get(p.kumo_source) if p else None)
            count(attributed, tenant, kind, hard, dom_name)
            out(line)
        return self.finish(lines)


class _JsonlRenderer(_Renderer):
    fmt = "jsonl"

    def __init__(self, scenario: Scenario | None, seed: int, truth: Truth | None) -> None:
        super().__init__(scenario, seed, truth)
        self._esc: dict[str | None, str] = {None: "null"}

    def _j(self, s: str | None) -> str:
        e = self._esc.get(s)
        if e is None:
            if len(self._esc) > 100_000:
                self._esc = {None: "null"}
            e = self._esc[s] = json.dumps(s)
        return e

    def render(self, events: Iterable[Event]) -> list[str]:
        lines: list[str] = []
        out = lines.append
        j = self._j
        count = self.count
        for ev in events:
            ts, kind, ip, sub, hard, dom, status, diag = ev[:8]
            hard = bool(hard) and kind == Kind.BOUNCED
            out(
                f'{{"ts":{ts:.3f},"kind":"{_KIND_NAMES[kind]}","ip":{j(ip)},'
                f'"subuser":{j(sub)},"hard":{"true" if hard else "false"},'
                f'"rcpt_domain":{j(dom)},"status":{j(status)},"diag":{j(diag)}}}'
            )
            count(ip, sub, kind, hard, dom)
        return self.finish(lines)


def render_kumo(
    events: Iterable[Event],
    *,
    scenario: Scenario | None = None,
    no_source_address: float = 0.15,
    seed: int = 0,
    truth: Truth | None = None,
) -> Iterator[str]:
    """KumoMTA JSON log lines, without newlines. ``no_source_address``: fraction of
    records carrying only ``egress_source`` (attribution through the map); Feedback records
    never carry source_address."""
    r = _KumoRenderer(scenario, seed, truth, no_source_address)
    return _render_iter(r, events)


def render_jsonl(events: Iterable[Event], *, truth: Truth | None = None) -> Iterator[str]:
    """The project's JSON lines (ts, kind, ip, subuser, hard, rcpt_domain, status, diag)."""
    return _render_iter(_JsonlRenderer(None, 0, truth), events)
