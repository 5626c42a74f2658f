"""What opsconsole has put into the MTA for each provider suspension (migration v020): the
``until`` it applied and, for KumoMTA, the ids kumod's admin API returned (DELETE needs them).
"""

from __future__ import annotations

from sqlalchemy import Column, Float, MetaData, String, Table, Text

metadata = MetaData()

mta_suspension = Table(
    "mta_suspension",
    metadata,
    Column("kind", String(16), primary_key=True),  # postfix | pmta | kumo
    Column("ip", String(64), primary_key=True),
    Column("provider", String(64), primary_key=True),
    Column("until", Float, nullable=False),
    Column("ids", Text, nullable=False, default="[]"),  # JSON list (kumo suspension ids)
    Column("applied_at", Float, nullable=False),
)
