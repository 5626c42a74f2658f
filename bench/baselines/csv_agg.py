"""Baseline for ``ingest --format pmta``: ``csv.reader`` plus a dict count by (ip, minute).

The floor of plain Python for the same file: header names mapped to indexes once, the
minute cut from the timestamp by slicing, repeated header lines skipped. No attribution
through a vmta map, no classification, no storage. Prints the number of keys.

Usage: python bench/baselines/csv_agg.py FILE
"""

import csv
import sys


def main(path: str) -> int:
    counts: dict[tuple[str, str], int] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        t_i = header.index("timeLogged")
        ip_i = header.index("dlvSourceIp")
        for row in reader:
            if row[0] == "type":  # a header repeated mid-stream
                t_i = row.index("timeLogged")
                ip_i = row.index("dlvSourceIp")
                continue
            key = (row[ip_i], row[t_i][:16])
            counts[key] = counts.get(key, 0) + 1
    print(len(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
