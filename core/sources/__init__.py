"""Parsers for real MTA output and the file tailer that feeds them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opsconsole.core.sources.base import Parser, ParseStats

FORMATS = ("pmta", "postfix", "kumo", "jsonl")  # MTA logs (each has a simulator renderer)
ESP_FORMATS = ("sendgrid", "mailgun", "ses")  # saved webhook payloads, one per line
INGEST_FORMATS = FORMATS + ESP_FORMATS


def make_parser(
    fmt: str, ip_map: Mapping[str, str] | None = None, now: Callable[[], float] | None = None
) -> Parser:
    """A fresh parser for ``fmt``; ``ip_map`` attributes events that carry no IP."""
    ip_map = dict(ip_map or {})
    kwargs: dict[str, Any] = {"ip_map": ip_map}
    if fmt == "pmta":
        from opsconsole.core.sources.pmta import PmtaParser

        return PmtaParser(**kwargs)
    if fmt == "postfix":
        from opsconsole.core.sources.postfix import PostfixParser

        return PostfixParser(now=now, **kwargs)
    if fmt == "kumo":
        from opsconsole.core.sources.kumo import KumoParser

        return KumoParser(**kwargs)
    if fmt == "jsonl":
        from opsconsole.core.sources.jsonl import JsonlParser

        return JsonlParser(**kwargs)
    if fmt in ESP_FORMATS:
        from opsconsole.core.esp import make_esp_parser

        return make_esp_parser(fmt)
    raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")


__all__ = ["ESP_FORMATS", "FORMATS", "INGEST_FORMATS", "ParseStats", "Parser", "make_parser"]
