"""Side by side: the findings of a float64 run and of a run with some studies in float32.

    python benchmarks/dtype_check.py RESULTS_F64 RESULTS_F32 [CLAIM ...]

A study may run in float32 only where its claims come out the same: every verdict equal,
and every effect's float32 estimate inside its float64 95% interval, on the same seeds
(n equal). The claims compared are those evaluated in RESULTS_F32 (or the ones named).
Prints a Markdown table (one row per effect) and exits 1 on any claim that fails the test.
"""

import json
import sys
from pathlib import Path


def evaluated(path):
    """The findings of ``path``/findings.json that have effects or a decided verdict."""
    findings = json.loads((Path(path) / "findings.json").read_text())
    return {f["key"]: f for f in findings if f["effects"] or f["verdict"] != "inconclusive"}


def effect_rows(wide, narrow):
    """(label, float64 estimate [lo, hi] n, float32 estimate n, inside) per effect."""
    by_label = {e["label"]: e for e in narrow["effects"]}
    for e in wide["effects"]:
        other = by_label.get(e["label"])
        if other is None:
            yield e["label"], e, None, False
            continue
        inside = e["lo"] <= other["estimate"] <= e["hi"] and e["n"] == other["n"]
        yield e["label"], e, other, inside


def cell(text):
    """Text safe inside a Markdown table cell (labels such as ||dL/dW_1|| hold bars)."""
    return str(text).replace("|", "\\|")


def number(e):
    return "missing" if e is None else f"{e['estimate']:.4g} (n {e['n']}, {e['outcome']})"


def main(f64, f32, claims):
    wide, narrow = evaluated(f64), evaluated(f32)
    claims = claims or sorted(narrow)
    print("| claim | effect | float64: estimate [95% interval] (n, outcome) | float32 | inside |")
    print("|---|---|---|---|---|")
    failed = []
    for key in claims:
        a, b = wide[key], narrow[key]
        same = a["verdict"] == b["verdict"]
        print(
            f"| **{key}** | verdict | {a['verdict']} | {b['verdict']} | {'yes' if same else 'NO'} |"
        )
        ok = same
        for label, e, other, inside in effect_rows(a, b):
            interval = (
                f"{e['estimate']:.4g} [{e['lo']:.4g}, {e['hi']:.4g}] (n {e['n']}, {e['outcome']})"
            )
            mark = "yes" if inside else "NO"
            print(f"| {key} | {cell(label)} | {interval} | {number(other)} | {mark} |")
            ok &= inside
        if not ok:
            failed.append(key)
    print(
        f"\n{len(claims) - len(failed)} of {len(claims)} claims unchanged"
        + (f"; changed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
