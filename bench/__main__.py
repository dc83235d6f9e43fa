"""Run the benchmarks: ``python -m bench`` runs every bench/bench_*.py with a ``run()``; ``python -m bench ledger`` one.

``python -m bench province --full`` runs the province benchmark at its full size (see bench/bench_province.py).

A benchmark that fails is reported in the table and the others still run; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def available() -> list[str]:
    """Return the names of the benchmark modules (bench_<name>.py → <name>)."""
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def run_one(name: str) -> tuple[list[dict], str | None]:
    """Import bench.bench_<name> and call its run(); return (rows, error text or None)."""
    try:
        module = importlib.import_module(f"bench.bench_{name}")
        runner = getattr(module, "run", None)
        if runner is None:
            return [], "skipped: defines no run() (run it as a script)"
        rows = runner()
    except Exception:  # noqa: BLE001 - report any failure and carry on with the next benchmark
        return [], traceback.format_exc(limit=3).strip()
    return rows, None


def format_table(section: str, rows: list[dict]) -> str:
    """Return rows as an aligned text table under a section title."""
    lines = [f"== {section}"]
    width = max((len(str(r["name"])) for r in rows), default=10)
    for row in rows:
        value = row["value"]
        shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
        lines.append(f"  {str(row['name']):<{width}}  {shown:>10} {row.get('unit', ''):<5}  {row.get('note', '')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks (all by default), print their tables; return 1 if one failed."""
    names = available()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"one of: {', '.join(names)} (default: all)")
    parser.add_argument("--full", action="store_true",
                        help="full sizes where a benchmark has them (VILLAGEBOT_BENCH_SCALE=province: the "
                             "province benchmark's million assets)")
    args = parser.parse_args(argv)
    if args.full:
        os.environ["VILLAGEBOT_BENCH_SCALE"] = "province"
    unknown = sorted(set(args.names) - set(names))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(names)}")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    failed = False
    for name in args.names or names:
        started = time.perf_counter()
        rows, error = run_one(name)
        print(format_table(f"{name} ({time.perf_counter() - started:.0f} s)", rows), flush=True)
        if error:
            failed = failed or not error.startswith("skipped:")
            print("  " + error.replace("\n", "\n  "), flush=True)
        print(flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
