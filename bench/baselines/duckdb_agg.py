"""Compiled anchor for ``ingest --format pmta`` (issue 10): DuckDB's ``read_csv`` plus a group
by (ip, type, minute) of the same file, all columns as text, both cores. Prints the number
of groups. Needs the bench extra (``pip install -e '.[bench]'``: duckdb 2.0.1)."""

from __future__ import annotations

import sys

import duckdb

path = sys.argv[1]
rows = duckdb.sql(
    "select dlvSourceIp, type, date_trunc('minute', try_cast(timeLogged as timestamptz)) m,"
    f" count(*) from read_csv('{path}', all_varchar=true) group by all"
).fetchall()
print(len(rows))
