"""Every key of spec section 7, driven through Pilot, checked against the database."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from opsconsole.core.views import REPORT_KEYS
from opsconsole.tui.dialogs import AckDialog, ConfirmDialog, ExportDialog, ResolveDialog
from opsconsole.tui.help import HelpScreen
from opsconsole.tui.main import MainScreen
from tests.tui.helpers import loaded, row, scalar, wait_for


async def _open_dialog(pilot, key: str, kind: type) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, kind))


async def test_panels_and_tabs(app_factory) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        main = app.main
        assert main.active_name == "ips"
        assert main.panel().table.row_count == 17
        for key, name, rows in (("2", "warmups", 3), ("3", "pools", 10), ("4", "alerts", 5)):
            await pilot.press(key)
            await wait_for(pilot, lambda n=name: main.active_name == n)
            await wait_for(pilot, lambda r=rows: main.panel().table.row_count == r)
        await pilot.press("tab")
        await wait_for(pilot, lambda: main.active_name == "ips")
        await pilot.press("shift+tab")
        await wait_for(pilot, lambda: main.active_name == "alerts")


async def test_pause_then_resume_warmup(app_factory, engine: AsyncEngine) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()
    sql = "SELECT state, state_reason FROM warmup_plan WHERE ip = :ip"
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await pilot.press("2")
        await wait_for(pilot, lambda: app.main.panel().selected_ip() == "192.0.2.30")
        await _open_dialog(pilot, "p", ConfirmDialog)
        await pilot.press(*"list check", "enter")
        await wait_for(pilot, lambda: app.main.panel().selected()["state"] == "paused")
        plan = await row(engine, sql, ip="192.0.2.30")
        assert plan is not None and plan["state"] == "paused"
        assert "list check" in plan["state_reason"]

        await _open_dialog(pilot, "p", ConfirmDialog)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.main.panel().selected()["state"] == "warming")
        assert (await row(engine, sql, ip="192.0.2.30"))["state"] == "warming"


async def test_confirm_cancel_changes_nothing(app_factory, engine: AsyncEngine) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await pilot.press("2")
        await _open_dialog(pilot, "p", ConfirmDialog)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await pilot.pause(0.3)
    assert await scalar(engine, "SELECT state FROM warmup_plan WHERE ip='192.0.2.30'") == "warming"
    assert await scalar(engine, "SELECT count(*) FROM command") == 0


async def test_ack_with_name_and_note(app_factory, engine: AsyncEngine) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await pilot.press("4")
        await wait_for(pilot, lambda: (app.main.panel().selected() or {}).get("id") == "a-1004")
        await _open_dialog(pilot, "a", AckDialog)
        # As an operator types it: the name replaces the preselected $USER, tab to the note.
        await pilot.press(*"carol", "tab", *"on it", "enter")
        await wait_for(pilot, lambda: app.main.panel().selected()["state"] == "acknowledged")
    a = await row(engine, "SELECT state, acknowledged_by, ack_note FROM alert WHERE id='a-1004'")
    assert a == {"state": "acknowledged", "acknowledged_by": "carol", "ack_note": "on it"}


async def test_ack_a_name_and_enter(app_factory, engine: AsyncEngine) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await pilot.press("4")
        await wait_for(pilot, lambda: (app.main.panel().selected() or {}).get("id") == "a-1004")
        await _open_dialog(pilot, "a", AckDialog)
        await pilot.press(*"erin", "enter")
        await wait_for(pilot, lambda: app.main.panel().selected()["state"] == "acknowledged")
    assert await scalar(engine, "SELECT acknowledged_by FROM alert WHERE id='a-1004'") == "erin"


async def test_ack_defaults_to_user(app_factory, engine: AsyncEngine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("USER", "dave")
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await pilot.press("4")
        await _open_dialog(pilot, "a", AckDialog)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.main.panel().selected()["state"] == "acknowledged")
    assert await scalar(engine, "SELECT acknowledged_by FROM alert WHERE id='a-1004'") == "dave"


async def test_resolve_with_note(app_factory, engine: AsyncEngine) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await pilot.press("4", "down")
        await wait_for(pilot, lambda: (app.main.panel().selected() or {}).get("id") == "a-1001")
        await _open_dialog(pilot, "r", ResolveDialog)
        await pilot.press(*"list cleaned", "enter")
        await wait_for(pilot, lambda: app.main.panel().selected()["state"] == "resolved")
    a = await row(engine, "SELECT state, resolve_note FROM alert WHERE id='a-1001'")
    assert a == {"state": "resolved", "resolve_note": "list cleaned"}


async def test_ack_only_on_alerts_panel(app_factory, engine: AsyncEngine) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        assert app.main.check_action("ack", ()) is None  # shown disabled on the IPs panel
        await pilot.press("a")
        await pilot.pause(0.2)
        assert isinstance(app.screen, MainScreen)


async def test_restore_then_remove_ip(app_factory, engine: AsyncEngine) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()
    sql = "SELECT state, weight FROM pool_member WHERE pool='bulk' AND ip='203.0.113.13'"
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        assert app.main.panel().selected_ip() == "203.0.113.13"  # worst first
        assert (await row(engine, sql))["state"] == "removed"
        await _open_dialog(pilot, "x", ConfirmDialog)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.main.panel().selected()["status"] == "active")
        assert await row(engine, sql) == {"state": "active", "weight": 100.0}

        await _open_dialog(pilot, "x", ConfirmDialog)
        await pilot.press(*"spam trap hits", "enter")
        await wait_for(pilot, lambda: app.main.panel().selected()["status"] == "removed")
        assert (await row(engine, sql))["state"] == "removed"
    audit = await row(
        engine, "SELECT actor, action, reason FROM audit WHERE ip='203.0.113.13' ORDER BY id DESC"
    )
    assert audit is not None and audit["action"] == "remove"
    assert "spam trap hits" in audit["reason"]


async def test_export_writes_private_report(app_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()
    out = tmp_path / "export.json"
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await _open_dialog(pilot, "e", ExportDialog)
        path = app.screen.query_one("#path")
        path.value = str(out)
        path.focus()
        await pilot.press("enter")
        await wait_for(pilot, out.exists)
        await wait_for(pilot, lambda: any(str(out) in str(n.message) for n in app._notifications))
    report = json.loads(out.read_text())
    assert set(REPORT_KEYS) <= set(report)
    assert {r["ip"] for r in report["ips"]} >= {"203.0.113.13", "198.51.100.20"}
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


async def test_export_markdown_follows_format(app_factory, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await _open_dialog(pilot, "e", ExportDialog)
        await pilot.press("right", "right", "enter")  # json -> csv -> markdown
        await wait_for(pilot, lambda: app.screen.query_one("#path").value.endswith(".md"))
        await pilot.click("#ok")
        await wait_for(pilot, lambda: list(tmp_path.glob("opsconsole-report-*.md")))
    (md,) = tmp_path.glob("opsconsole-report-*.md")
    assert md.read_text().startswith("# opsconsole report")


async def test_freeze_stops_updates(app_factory, engine: AsyncEngine) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        table = app.main.panel().table
        await pilot.press("space")
        assert app.frozen
        assert "FROZEN" in str(app.main.query_one("#status").render())
        async with engine.begin() as conn:
            await conn.exec_driver_sql(
                "INSERT INTO bucket (ip, subuser, minute, delivered, bounced, hard, soft, deferred,"
                " complaints) VALUES ('10.9.9.9', '', 1772445600, 90, 10, 10, 0, 0, 0)"
            )
        fetches = app.fetches
        await pilot.pause(1.0)
        assert app.fetches == fetches  # no polling while frozen
        assert table.row_count == 17
        await pilot.press("space")
        assert not app.frozen
        await wait_for(pilot, lambda: table.row_count == 18)
        assert "FROZEN" not in str(app.main.query_one("#status").render())


async def test_live_refresh_keeps_cursor_and_shows_trend(app_factory, engine: AsyncEngine) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        table = app.main.panel().table
        await pilot.press(*["down"] * 3)  # past 3 IPs (one subuser each: one row each)
        key = table.cursor_key()
        assert key == "203.0.113.12|"
        ip, subuser = key.split("|")
        # a new worst IP sorts in above the cursor, and the cursor's IP gets worse
        async with engine.begin() as conn:
            await conn.exec_driver_sql(
                "INSERT INTO bucket (ip, subuser, minute, delivered, bounced, hard, soft, deferred,"
                " complaints) VALUES ('10.9.9.9', '', 1772445600, 50, 50, 50, 0, 0, 0),"
                f" ('{ip}', '{subuser}', 1772445540, 0, 300, 300, 0, 0, 0)"
                " ON CONFLICT (ip, subuser, provider, minute) DO UPDATE SET bounced = bounced + 300"
            )
        await wait_for(pilot, lambda: table.row_count == 18)
        await wait_for(pilot, lambda: table.get_row_index("10.9.9.9|") == 0)
        assert table.cursor_key() == key
        assert str(table.get_cell(key, "trend")) == "↑"


async def test_read_only_hides_and_refuses(app_factory, engine: AsyncEngine) -> None:  # type: ignore[no-untyped-def]
    app = app_factory(read_only=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        main = app.main
        keys = set(main.active_bindings)
        assert not {"p", "x", "a", "r"} & keys
        assert {"question_mark", "slash", "e", "space", "q"} <= keys
        actions = {a for _, _, a in main.palette_entries()}
        assert not {"toggle_warmup", "toggle_member", "ack", "resolve"} & actions
        for key in ("p", "x", "4", "a", "r"):
            await pilot.press(key)
            await pilot.pause(0.1)
            assert isinstance(app.screen, MainScreen)
        app.run_command("warmup.pause", {"ip": "192.0.2.30"})
        await pilot.pause(0.3)
        assert "READ-ONLY" in str(main.query_one("#status").render())
    assert await scalar(engine, "SELECT count(*) FROM command") == 0
    assert await scalar(engine, "SELECT state FROM warmup_plan WHERE ip='192.0.2.30'") == "warming"


async def test_filter_narrows_rows_and_escape_clears(app_factory) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        table = app.main.panel().table
        await pilot.press("slash", *"198.51")
        await wait_for(pilot, lambda: table.row_count == 5)  # 3 IPs, 2 subusers of the third
        await pilot.press("enter")  # keep the filter, back to the table
        assert app.focused is table
        await pilot.press("3")  # applies on every panel
        await wait_for(pilot, lambda: app.main.panel().table.row_count == 3)
        await pilot.press("1", "escape")
        await wait_for(pilot, lambda: table.row_count == 17)


async def test_filter_regex(app_factory) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        table = app.main.panel().table
        await pilot.press("slash", *r"^203\.0\.113\.1[23] ")
        await wait_for(pilot, lambda: table.row_count == 4)  # 2 IPs, 2 subusers of one
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.row_count == 17)
        await pilot.press("slash", *"[unclosed")  # not a regex: matched literally
        await wait_for(pilot, lambda: table.row_count == 0)


async def test_help_lists_every_binding(app_factory) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await _open_dialog(pilot, "question_mark", HelpScreen)
        text = app.screen.text()
        for b in MainScreen.BINDINGS:
            if b.id == "clear_filter":
                continue
            assert app.get_key_display(b) in text, b
            assert MainScreen.LONG_HELP.get(b.id, b.description) in text
        assert "^p" in text and "palette" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_keymap_from_settings(app_factory, db_url: str) -> None:  # type: ignore[no-untyped-def]
    from tests.tui.helpers import make_settings

    app = app_factory(settings=make_settings(db_url, keymap={"freeze": "f", "help": "f1"}))
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await pilot.press("f")
        assert app.frozen
        await pilot.press("space")
        assert app.frozen  # space is no longer bound
        await _open_dialog(pilot, "f1", HelpScreen)
        assert "f1" in app.screen.text()


async def test_detail_screen(app_factory) -> None:  # type: ignore[no-untyped-def]
    from opsconsole.tui.detail import IpDetailScreen

    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await _open_dialog(pilot, "enter", IpDetailScreen)
        screen = app.screen
        await wait_for(pilot, lambda: screen.query_one("#audit").row_count > 0)
        windows = screen.query_one("#windows")
        assert [str(windows.get_row_at(i)[0]) for i in range(3)] == ["15m", "1h", "24h"]
        assert screen.query_one("#samples").row_count == 6
        audit = screen.query_one("#audit")
        assert str(audit.get_row_at(0)[2]) == "remove"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_palette_offers_every_action(app_factory) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        actions = {a for _, _, a in app.main.palette_entries()}
        for b in MainScreen.BINDINGS:
            if b.id != "clear_filter":
                assert b.action in actions
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"freeze")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.frozen)


async def test_q_quits_with_0(app_factory) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await pilot.press("q")
        await pilot.pause(0.2)
    assert app.return_code == 0
    assert not app.is_running


async def test_no_redraw_under_a_modal_or_for_hidden_panels(
    app_factory, engine: AsyncEngine
) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        ips = app.main.panel("ips")
        alerts = app.main.panel("alerts")
        assert alerts.table.row_count == 0  # never shown yet: never drawn
        await _open_dialog(pilot, "question_mark", HelpScreen)
        async with engine.begin() as conn:
            await conn.exec_driver_sql(
                "INSERT INTO bucket (ip, subuser, minute, delivered, bounced, hard, soft, deferred,"
                " complaints) VALUES ('10.9.9.9', '', 1772445600, 90, 10, 10, 0, 0, 0)"
            )
        fetches = app.fetches
        await wait_for(pilot, lambda: app.fetches >= fetches + 2)  # still polling
        assert ips.table.row_count == 17  # but not redrawing under the help screen
        await pilot.press("escape")
        await wait_for(pilot, lambda: ips.table.row_count == 18)
        await pilot.press("4")
        await wait_for(pilot, lambda: alerts.table.row_count == 5)
