"""Job: start-up of ``opsconsole report --help`` against ``python -c pass`` (same
interpreter), both child processes, interleaved. Target: < 0.35 s over the baseline.

    python -m bench.startup [--smoke] [--repeat N]
"""

from __future__ import annotations

import sys

from bench.common import OPSCONSOLE, PY, Row, alternate, finish, fmt_ms, median, parser, run_child

TARGET = 0.35


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__ or "", repeat=7).parse_args(argv)
    repeat = 2 if args.smoke else args.repeat
    run_child([OPSCONSOLE, "report", "--help"])  # warm the page cache (.pyc files)
    ours, base = alternate(
        repeat,
        lambda: run_child([OPSCONSOLE, "report", "--help"]),
        lambda: run_child([PY, "-c", "pass"]),
    )
    t, b = median([p.wall for p in ours]), median([p.wall for p in base])
    over = t - b
    row = Row(
        job="opsconsole report --help start-up",
        value=fmt_ms(t),
        baseline=f"{fmt_ms(b)} python -c pass",
        ratio=f"+{fmt_ms(over)}",
        target=f"< +{TARGET * 1000:.0f} ms",
        ok=over < TARGET,
        note=f"peak RSS {median([p.maxrss_mb for p in ours]):.0f} MB",
        raw={"seconds": t, "baseline_seconds": b, "over": over},
    )
    return finish("startup", [row], args.smoke)


if __name__ == "__main__":
    sys.exit(main())
