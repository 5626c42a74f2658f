"""The schema. Tables are SQLModel models so the ORM is there for cold paths (control
commands, the TUI's small reads); hot paths (bucket upserts) use Core/driver executemany.

Conventions: times are unix seconds (float, UTC); a missing subuser is stored as ``''``
(NULL would defeat the composite primary keys the upserts rely on) and shown as null;
an unattributed event is stored under ip ``''``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlmodel import Field, SQLModel


class SchemaVersion(SQLModel, table=True):
    __tablename__ = "schema_version"
    version: int = Field(primary_key=True)
    applied_at: float


class SendingIp(SQLModel, table=True):  # created by v1, dropped by v2 (read by nothing)
    __tablename__ = "sending_ip"
    ip: str = Field(primary_key=True)
    first_event_at: float
    last_event_at: float


class Bucket(SQLModel, table=True):
    """Per-(ip, subuser, minute) counters, the v001 shape (v007 adds ``provider``, v021 keys
    the table time first). WITHOUT ROWID: the key is the row."""

    __tablename__ = "bucket"
    __table_args__ = {"sqlite_with_rowid": False}
    ip: str = Field(primary_key=True)
    subuser: str = Field(primary_key=True, default="")
    minute: int = Field(primary_key=True)  # unix seconds of the minute's start
    delivered: int = 0
    bounced: int = 0
    hard: int = 0
    soft: int = 0
    deferred: int = 0
    complaints: int = 0


class BounceSample(SQLModel, table=True):
    __tablename__ = "bounce_sample"
    id: int | None = Field(default=None, primary_key=True)
    ts: float = Field(index=True)
    ip: str = Field(index=True)
    subuser: str = ""
    rcpt_domain: str = ""
    status: str = ""
    hard: bool = False
    diag: str = ""
    source: str = ""


class SourceCheckpoint(SQLModel, table=True):
    """Where a file was read up to; committed in the same transaction as the buckets built
    from it. Keyed by (host, absolute path), so ``opsconsole ingest`` and a following engine
    on one host share one position, and the hosts of a fleet each have their own."""

    __tablename__ = "source_checkpoint"
    host: str = Field(default="", primary_key=True)
    path: str = Field(primary_key=True)
    source: str = ""  # the source (name) that last read it
    dev: int = 0
    inode: int = 0
    offset: int = 0
    first_line_hash: str = ""
    parser_state: str = "{}"  # JSON
    updated_at: float = 0.0


class IngestCounter(SQLModel, table=True):
    __tablename__ = "ingest_counter"
    # Per (host, source) (v023): every host of a fleet names its log "mta".
    host: str = Field(default="", primary_key=True)
    source: str = Field(primary_key=True)
    format: str = ""
    path: str = ""
    lines: int = 0
    events: int = 0
    ignored: int = 0
    malformed: int = 0
    unattributed: int = 0
    internal: int = 0  # Postfix hand-offs to a content filter (not deliveries)
    expired: int = 0  # qmgr "expired, returned to sender" (message-level, not bounces)
    last_event_at: float | None = None
    last_read_at: float | None = None
    samples: str = "[]"  # JSON list of malformed line samples
    error: str | None = None  # last read error (permission, I/O), cleared on success


class Pool(SQLModel, table=True):
    __tablename__ = "pool"
    name: str = Field(primary_key=True)
    created_at: float = 0.0


class PoolMember(SQLModel, table=True):
    __tablename__ = "pool_member"
    pool: str = Field(primary_key=True)
    ip: str = Field(primary_key=True, index=True)
    base_weight: float = 100.0
    weight: float = 100.0
    state: str = "active"  # active | deprioritized | removed | warming
    daily_cap: int | None = None
    healthy_checks: int = 0
    state_reason: str = ""
    changed_at: float = 0.0


class WarmupPlan(SQLModel, table=True):
    __tablename__ = "warmup_plan"
    ip: str = Field(primary_key=True)
    pool: str | None = None
    schedule: str = "six-week"
    stage_days: int = 7
    daily_quotas: str = "[]"  # JSON list, copied from the schedule at start
    stage: int = 0  # 0-based
    day: int = 0  # 0-based day within the stage
    state: str = "warming"  # warming | held | paused | completed
    state_reason: str = ""
    started_at: float = 0.0
    day_started_at: float = 0.0
    paused_at: float | None = None
    updated_at: float = 0.0


class Alert(SQLModel, table=True):
    __tablename__ = "alert"
    id: str = Field(primary_key=True)
    key: str = Field(index=True)  # rule|ip|subuser
    rule: str
    ip: str = ""
    subuser: str = ""
    severity: str  # info | warning | critical
    state: str = Field(default="firing", index=True)  # firing | acknowledged | resolved
    title: str = ""
    message: str = ""
    value: float | None = None
    sent: int = 0
    opened_at: float
    last_seen_at: float
    notified_severity: str | None = None
    notified_value: float | None = None
    healthy_checks: int = 0
    acknowledged_by: str | None = None
    acknowledged_at: float | None = None
    ack_note: str | None = None
    resolved_at: float | None = None
    resolved_by: str | None = None
    resolve_note: str | None = None
    provider: str = ""  # v007: '' for IP-wide alerts, else the provider it was judged at


class AlertEvent(SQLModel, table=True):
    """Every transition of every alert."""

    __tablename__ = "alert_event"
    id: int | None = Field(default=None, primary_key=True)
    alert_id: str = Field(index=True)
    at: float
    transition: str  # opened | escalated | rose | acknowledged | resolved | silenced ...
    actor: str = "engine"
    severity: str = ""
    value: float | None = None
    note: str = ""


class Silence(SQLModel, table=True):
    __tablename__ = "silence"
    key: str = Field(primary_key=True)
    until: float
    actor: str = ""
    created_at: float = 0.0


class Audit(SQLModel, table=True):
    __tablename__ = "audit"
    id: int | None = Field(default=None, primary_key=True)
    at: float = Field(index=True)
    actor: str  # "engine" or a user name
    action: str
    ip: str = Field(default="", index=True)
    pool: str = ""
    subuser: str = ""
    reason: str = ""
    detail: str = "{}"  # JSON: numbers that triggered it, hook outcome


class Outbox(SQLModel, table=True):
    """Notifications waiting to go out; survives restarts, retried with backoff."""

    __tablename__ = "outbox"
    id: int | None = Field(default=None, primary_key=True)
    created_at: float
    notifier: str = Field(index=True)
    alert_id: str = ""
    payload: str  # JSON body of the generic webhook
    attempts: int = 0
    next_attempt_at: float = Field(default=0.0, index=True)
    last_error: str | None = None
    sent_at: float | None = Field(default=None, index=True)


class Lease(SQLModel, table=True):
    """One acting engine per database: the holder renews ``expires_at`` every tick."""

    __tablename__ = "lease"
    name: str = Field(primary_key=True)
    holder: str
    host: str = ""
    pid: int = 0
    acquired_at: float = 0.0
    heartbeat_at: float = 0.0
    expires_at: float = 0.0
    check_interval: float = 0.0
    last_check_at: float | None = None
    events_per_s: float = 0.0


class Command(SQLModel, table=True):
    """An operator command written by any process, applied by the acting engine."""

    __tablename__ = "command"
    id: int | None = Field(default=None, primary_key=True)
    created_at: float
    actor: str
    verb: str
    args: str = "{}"  # JSON
    applied_at: float | None = Field(default=None, index=True)
    result: str | None = None
    error: str | None = None


V1_TABLES = [
    SchemaVersion,
    SendingIp,
    Bucket,
    BounceSample,
    SourceCheckpoint,
    IngestCounter,
    Pool,
    PoolMember,
    WarmupPlan,
    Alert,
    AlertEvent,
    Silence,
    Audit,
    Outbox,
    Lease,
    Command,
]


def table_of(model: Any) -> Table:
    """The Core table of a SQLModel table class, for the batched SQL of storage/."""
    t = model.__table__
    assert isinstance(t, Table)
    return t
