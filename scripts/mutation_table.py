"""Per-module mutation score from mutmut's results (run after `nox -s mutants`, from the repository root).

Reads mutants/verify/math/*.py.meta (mutmut 3: one exit code per mutant) and prints a markdown table:
killed / total per module, the survivors by name, and the overall score. Exit codes follow mutmut's
own mapping (mutmut.stats.status_by_exit_code): 1 and 3 killed, 0 survived, timeouts counted apart.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code


def main(root: Path = Path("mutants/verify/math")) -> int:
    rows, totals, survivors = [], Counter(), []
    for meta in sorted(root.glob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if not codes:
            continue
        status = Counter(status_by_exit_code[code] for code in codes.values())
        survivors += [key for key, code in codes.items() if status_by_exit_code[code] == "survived"]
        totals.update(status)
        rows.append((meta.name.removesuffix(".meta"), status, len(codes)))
    print("| module | mutants | killed | survived | other |")
    print("|---|---:|---:|---:|---:|")
    for name, status, total in [*rows, ("**all**", totals, sum(totals.values()))]:
        other = total - status["killed"] - status["survived"]
        print(f"| {name} | {total} | {status['killed']} | {status['survived']} | {other} |")
    others = {k: v for k, v in totals.items() if k not in ("killed", "survived")}
    print(f"\nscore (killed / total): {totals['killed']} / {sum(totals.values())}; other statuses: {others or 'none'}")
    print("survivors:", *survivors, sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
