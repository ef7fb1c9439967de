"""Compare two results/ folders: equal tables (provenance and timing aside) and findings
(verdicts, effects and measured values; a rule's wording is reported, not compared).

    python benchmarks/compare_results.py RESULTS_A RESULTS_B

Used to show that a refactor, an executor (SLURM) or a back end changes no number. Prints
one line per table and per finding; exits 1 on any difference.
"""

import sys

import pandas as pd

from initbench.outcomes import comparable
from initbench.results import load_results
from initbench.verdicts import read_verdicts

TABLES = ("runs", "curves", "layers", "studies")


def main(a, b):
    a, b = load_results(a), load_results(b)
    same = True
    for name in TABLES:
        left = comparable(a.tables[name])
        right = comparable(b.tables[name])
        shared = [c for c in left.columns if c in right.columns]
        extra = sorted(set(left.columns) ^ set(right.columns))
        try:
            pd.testing.assert_frame_equal(left[shared], right[shared])
            print(
                f"{name}: equal, {len(left)} rows"
                + (f" (columns in one only: {extra})" if extra else "")
            )
        except AssertionError as error:
            same = False
            print(f"{name}: DIFFERENT: {str(error).splitlines()[0]}")
    if a.layout.findings.exists() and b.layout.findings.exists():
        fa, fb = (read_verdicts(r.layout.findings) for r in (a, b))
        for x, y in zip(fa, fb, strict=True):
            equal = numbers(x) == numbers(y)
            same &= equal
            note = "" if x["rule"] == y["rule"] else " (rule text differs: not compared)"
            print(
                f"finding {x['key']}: {x['verdict']} / {y['verdict']}, "
                + ("same verdict, effects and measured values" if equal else "DIFFERENT")
                + note
            )
    return 0 if same else 1


def numbers(finding):
    """What a finding measured and decided: its verdict, its effects' records, and its other
    measured rows (a findings.json written before issue 31 repeated each effect there)."""
    labels = {e["label"] for e in finding.get("effects", [])}
    rows = [list(row) for row in finding["measured"] if row[0] not in labels]
    return finding["key"], finding["verdict"], finding.get("effects", []), rows


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
