"""Parsers for real MTA output and the file tailer that feeds them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from opsconsole.core.sources.base import Now, Parser, ParseStats

FORMATS = ("pmta", "postfix", "kumo", "jsonl")  # MTA logs (each has a simulator renderer)
ESP_FORMATS = ("sendgrid", "mailgun", "ses")  # saved webhook payloads, one per line
INGEST_FORMATS = FORMATS + ESP_FORMATS


def make_parser(
    fmt: str,
    ip_map: Mapping[str, str] | None = None,
    *,
    now: Now,
    internal_relays: Iterable[str] = (),
) -> Parser:
    """A fresh parser for ``fmt``; ``ip_map`` attributes events that carry no IP.

    ``now`` is the clock every parser checks timestamps against (read once per ``feed``);
    ``internal_relays`` (Postfix only) are relays that are always internal hops.
    """
    ip_map = dict(ip_map or {})
    if fmt == "pmta":
        from opsconsole.core.sources.pmta import PmtaParser

        return PmtaParser(ip_map, now=now)
    if fmt == "postfix":
        from opsconsole.core.sources.postfix import PostfixParser

        return PostfixParser(ip_map, now=now, internal_relays=internal_relays)
    if fmt == "kumo":
        from opsconsole.core.sources.kumo import KumoParser

        return KumoParser(ip_map, now=now)
    if fmt == "jsonl":
        from opsconsole.core.sources.jsonl import JsonlParser

        return JsonlParser(ip_map, now=now)
    if fmt in ESP_FORMATS:
        from opsconsole.core.esp import make_esp_parser

        return make_esp_parser(fmt)
    raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")


__all__ = ["ESP_FORMATS", "FORMATS", "INGEST_FORMATS", "ParseStats", "Parser", "make_parser"]
