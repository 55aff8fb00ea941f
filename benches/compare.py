"""What moved between two saved benchmark runs: every same-run ratio, old vs new.

    python -m benches.compare [BASE] [NEW] [--threshold 0.10] [--times]

BASE and NEW are saved runs (a path, ``latest``, ``previous``, ``committed``
for benches/results.json, or a run number such as ``0003``); by default the
previous saved run (the committed one if only one is saved) against the
latest. Ratios are hookcore against a baseline measured in the same run
(higher is better), so they survive the machine's drift; absolute times do
not: ``--times`` prints pytest-benchmark's own comparison of the timings
first, to read, not to judge. Exits 1 if any ratio fell by more than the
threshold, 0 otherwise.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from benches import saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benches.compare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("base", nargs="?", help="the run to compare against (default: previous)")
    parser.add_argument("new", nargs="?", default="latest", help="the run to judge (default: latest)")
    parser.add_argument("--threshold", type=float, default=0.10, help="largest tolerated fall (default 0.10)")
    parser.add_argument("--times", action="store_true", help="print pytest-benchmark's timing comparison too")
    args = parser.parse_args(argv)
    new = saved.resolve(args.new)
    base = saved.resolve(args.base or ("previous" if len(saved.runs()) > 1 else "committed"))
    if args.times:
        tool = Path(sys.executable).with_name("pytest-benchmark")
        columns = ["--group-by=group", "--columns=min,median,rounds", "--sort=name"]
        subprocess.run([str(tool), "compare", str(base), str(new), *columns], check=True)
        print()
    return compare(base, new, args.threshold)


def compare(base_path: Path, new_path: Path, threshold: float) -> int:
    base, new = saved.load(base_path), saved.load(new_path)
    old_ratios, new_ratios = saved.ratios(base), saved.ratios(new)
    print(f"base: {base_path} (commit {_commit(base)}, {base['datetime']})")
    print(f"new:  {new_path} (commit {_commit(new)}, {new['datetime']})")
    print("ratios: hookcore against a same-run baseline, higher is better")
    print(f"flagged: a fall of more than {threshold:.0%}\n")
    worse = []
    rows: list[tuple[str, ...]] = []
    for key in sorted(old_ratios.keys() & new_ratios.keys()):
        old, now = old_ratios[key], new_ratios[key]
        change = now / old - 1
        flag = "WORSE" if change < -threshold else ("better" if change > threshold else "")
        if flag == "WORSE":
            worse.append(key)
        rows.append((_short(key[0]), key[1], f"{old:.3g}", f"{now:.3g}", f"{change:+.1%}", flag))
    _table(("bench", "ratio", "base", "new", "change", ""), rows)
    for label, keys in (
        ("only in base", old_ratios.keys() - new_ratios.keys()),
        ("only in new", new_ratios.keys() - old_ratios.keys()),
    ):
        for bench, name in sorted(keys):
            print(f"{label}: {_short(bench)}: {name}")
    if worse:
        print(f"\n{len(worse)} ratio(s) fell by more than {threshold:.0%}")
        return 1
    print(f"\nno ratio fell by more than {threshold:.0%}")
    return 0


def _commit(run: dict[str, object]) -> str:
    info = run.get("commit_info") or {}
    assert isinstance(info, dict)
    dirty = " + uncommitted changes" if info.get("dirty") else ""
    return f"{str(info.get('id', '?'))[:12]}{dirty}"


def _short(fullname: str) -> str:
    return fullname.removeprefix("benches/")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    raise SystemExit(main())
