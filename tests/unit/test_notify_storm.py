"""Storm control in the check's notice builder: 40 alerts of one provider opened in one
check become one grouped notice per notifier and group; filters and inhibition apply."""

from __future__ import annotations

from opsconsole.core.alerts import AlertState
from opsconsole.core.config import AlertGroupConfig, NotifierConfig, Secret
from opsconsole.core.engine.check import notices
from opsconsole.core.notify.kinds import gates


def alert(i: int, ip: str) -> AlertState:
    return AlertState(
        id=f"a{i:02d}", key=f"bounce_rate|{ip}|", rule="bounce_rate", ip=ip, subuser="",
        severity="critical", opened_at=1000.0, last_seen_at=1000.0, title=f"{ip} blocked",
        value=0.2, sent=300,
    )  # fmt: skip


def spec(name: str, **kw: object) -> NotifierConfig:
    return NotifierConfig("webhook", Secret("http://127.0.0.1:1/x"), name, **kw)  # type: ignore[arg-type]


def test_forty_alerts_of_one_provider_make_one_grouped_notice_per_notifier() -> None:
    ips = [f"10.1.0.{i}" for i in range(40)]
    batch = [(alert(i, ip), "opened") for i, ip in enumerate(ips)]
    batch.append((alert(99, "10.2.0.1"), "opened"))  # another provider: passes alone
    providers = {f"a{i:02d}": "outlook" for i in range(40)} | {"a99": "gmail"}
    pools = dict.fromkeys(ips, "prod") | {"10.2.0.1": "prod"}
    g = gates(
        [spec("ops"), spec("pager", min_severity="critical"), spec("gm", providers=("gmail",))]
    )
    out = notices(g, batch, "h", 3600.0, 2000.0, pools=pools, providers=providers,
                  group=AlertGroupConfig(10, "provider"))  # fmt: skip
    grouped = [n for n in out if n.body.get("grouped")]
    assert len(grouped) == 1
    (gn,) = grouped
    assert set(gn.notifiers) == {"ops", "pager"}
    assert gn.alert_id == "group:provider:outlook:bounce_rate" and gn.body["count"] == 40
    assert gn.body["alert_ids"] == sorted(f"a{i:02d}" for i in range(40))
    single = [n for n in out if not n.body.get("grouped")]
    assert [n.alert_id for n in single] == ["a99"]
    assert set(single[0].notifiers) == {"ops", "pager", "gm"}
    assert single[0].body["provider"] == "gmail" and single[0].body["pool"] == "prod"
    assert single[0].body["opened_at"] == "1970-01-01T00:16:40.000Z"


def test_ten_alerts_stay_single_and_acks_reach_only_ack_kinds() -> None:
    batch = [(alert(i, f"10.1.0.{i}"), "opened") for i in range(10)]
    out = notices(gates([spec("ops")]), batch, "h", 3600.0, 2000.0,
                  providers={f"a{i:02d}": "outlook" for i in range(10)},
                  group=AlertGroupConfig(10, "provider"))  # fmt: skip
    assert len(out) == 10
    slack = NotifierConfig("slack", Secret("http://127.0.0.1:1/x"), "chat")
    a = alert(1, "10.1.0.1")
    acked = notices(gates([spec("ops"), slack]), [(a, "acknowledged")], "h", 3600.0, 2000.0)
    assert [n.notifiers for n in acked] == [("ops",)]
