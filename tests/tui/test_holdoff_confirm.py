"""Issue 12 points 3-4 in the console: the restore confirm dialog shows the IP's current
rate and the hold-off the restore starts; the IP row then says ``hold 30m``; ``u`` undoes
the IP's last action (here the restore) after its own confirm dialog."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from opsconsole.core.windows import window_bounds
from opsconsole.tui.dialogs import ConfirmDialog
from tests.helpers.tui_seed import FIXED_NOW
from tests.tui.helpers import loaded, row, wait_for

IP = "203.0.113.13"
MEMBER = "SELECT state, weight FROM pool_member WHERE pool='bulk' AND ip=:ip"


async def test_restore_dialog_shows_rate_and_holdoff_then_u_undoes(  # type: ignore[no-untyped-def]
    app_factory, engine: AsyncEngine
) -> None:
    lo, hi = window_bounds(FIXED_NOW, 3600)
    truth = await row(
        engine,
        "SELECT sum(delivered) + sum(bounced) AS sent, sum(bounced) AS bounced FROM bucket"
        " WHERE ip = :ip AND minute >= :lo AND minute < :hi",
        ip=IP, lo=lo, hi=hi,
    )  # fmt: skip
    assert truth is not None
    rate = f"{truth['bounced'] / truth['sent']:.2%}"
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        assert app.main.panel().selected_ip() == IP
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        body = app.screen.body_text
        assert f"Bounce {rate} of {truth['sent']} sent" in body, body
        assert "and a 30m hold-off: the engine alerts but does not remove it again" in body
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.main.panel().selected()["status"] == "active")
        assert await row(engine, MEMBER, ip=IP) == {"state": "active", "weight": 100.0}
        hold = await row(engine, "SELECT until, actor FROM restore_holdoff WHERE ip = :ip", ip=IP)
        assert hold is not None and hold["until"] == FIXED_NOW + 1800
        table = app.main.panel().table
        await wait_for(
            pilot, lambda: "hold 30m" in [str(c) for c in table.get_row_at(table.cursor_row)]
        )
        restore_id = await row(
            engine, "SELECT max(id) AS id FROM audit WHERE ip = :ip AND action = 'restore'", ip=IP
        )
        assert restore_id is not None
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert app.screen.title_text == f"Undo action {restore_id['id']}: restore {IP}?"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.main.panel().selected()["status"] == "removed")
        assert (await row(engine, MEMBER, ip=IP))["state"] == "removed"  # type: ignore[index]
        assert await row(engine, "SELECT * FROM restore_holdoff WHERE ip = :ip", ip=IP) is None
        last = await row(
            engine, "SELECT action, reason FROM audit WHERE ip = :ip ORDER BY id DESC", ip=IP
        )
        assert last is not None and last["action"] == "remove"
        assert last["reason"].endswith(f"undo of {restore_id['id']}"), last
