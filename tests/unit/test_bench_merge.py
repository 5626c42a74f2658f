"""bench/run_all.merge_results swaps a job's rows in RESULTS.md in place, whether the rows
are named like the job or not, and leaves every other row (another table's too)."""

from __future__ import annotations

from pathlib import Path

from bench.common import Row
from bench.run_all import merge_results

OLD = """# Benchmark results

| job | value | baseline (same run) | ratio | target | result | note |
|---|---|---|---|---|---|---|
| ingest pmta, 1.00M lines | 3.0 s | 1.0 s | 3.00x | <= 3.0x | **PASS** |  |
| report --format json, last 1 h, 5 IPs | 9 ms | 1 ms | 9.00x | <= 2x | **FAIL** |  |

## Cardinality

| job | before | after | target |
|---|---|---|---|
| report --format json, 1M IPs: peak RSS | 4732 MB | 94 MB | **PASS** |
"""


def test_rows_are_swapped_in_place_whatever_they_are_named(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text(OLD)
    row = Row("report --format json, last 1 h, 5 IPs", "2 ms", "1 ms", "2.00x", "<= 2x", True)
    merge_results(path, ["report_json"], [row])
    text = path.read_text()
    assert "9.00x" not in text and text.count("report --format json, last 1 h") == 1
    lines = text.splitlines()
    assert lines.index("| report --format json, last 1 h, 5 IPs | 2 ms | 1 ms | 2.00x | <= 2x"
                       " | **PASS** |  |") == 5  # where the old row was  # fmt: skip
    assert "| ingest pmta, 1.00M lines | 3.0 s" in text  # another job's row stays
    assert "| report --format json, 1M IPs: peak RSS | 4732 MB" in text  # another table's
