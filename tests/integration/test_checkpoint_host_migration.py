"""Migration v012 on a database from before positions were per host: its checkpoint rows
are kept (host ''), and a reader's first commit claims them, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import text

from opsconsole.storage.db import open_database

OLD = (
    "CREATE TABLE source_checkpoint (path VARCHAR NOT NULL PRIMARY KEY, source VARCHAR NOT NULL,"
    ' dev INTEGER NOT NULL, inode INTEGER NOT NULL, "offset" INTEGER NOT NULL,'
    " first_line_hash VARCHAR NOT NULL, parser_state VARCHAR NOT NULL,"
    " updated_at FLOAT NOT NULL)"
)


async def test_old_checkpoints_survive_the_per_host_key(db_url: str) -> None:
    engine = await open_database(db_url)
    async with engine.begin() as conn:  # back to the old shape, with one position in it
        await conn.execute(text("DROP TABLE source_checkpoint"))
        await conn.execute(text(OLD))
        await conn.execute(
            text(
                "INSERT INTO source_checkpoint VALUES"
                " ('/var/log/mail.log', 'mta', 1, 2, 12345, 'h', '{}', 0)"
            )
        )
        await conn.execute(text("DELETE FROM schema_version WHERE version = 12"))
    await engine.dispose()
    engine = await open_database(db_url)  # runs v012
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(text('SELECT host, path, "offset" FROM source_checkpoint'))
            ).all()
        assert [tuple(r) for r in rows] == [("", "/var/log/mail.log", 12345)]
        from opsconsole.storage.checkpoints import load_checkpoints

        saved = await load_checkpoints(engine, "mx1")  # the old row stands in for mx1's
        assert saved["/var/log/mail.log"].checkpoint.offset == 12345
        assert saved["/var/log/mail.log"].host == ""
    finally:
        await engine.dispose()
