"""Leave-one-seed-out: does any claim's verdict change when one seed's runs are left out?

    python benchmarks/leave_one_seed_out.py [--results results] [--config config/config.yaml]
        [--tier paper] [--claims relu_vanishing exploding ...]

For each claim (the seed's by default) and each seed its studies ran, the claim is
evaluated on the tables without that seed's runs (no figures). Prints, per claim, its
verdict on every seed and the seeds whose removal changes it; exits 1 if any does. A
verdict that one seed can flip is not a verdict (the issue's robustness check).
"""

import argparse
import sys
from pathlib import Path

import yaml

from initbench.config import check_schema
from initbench.findings import CLAIMS
from initbench.findings.base import Results
from initbench.layout import Layout
from initbench.results import load_results


def without_seed(tables, cells, seed):
    """The tables with the runs of ``seed`` in ``cells`` left out."""
    out = dict(tables)
    for kind in ("runs", "curves", "layers"):
        table = tables[kind]
        drop = table["cell"].isin(cells) & table["seed"].eq(seed)
        out[kind] = table[~drop]
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", default="results")
    p.add_argument("--config", default="config/config.yaml")
    p.add_argument("--tier", help="the tier the results were run in (default: the config's)")
    p.add_argument("--claims", nargs="*", help="claim keys (default: the seed's claims)")
    args = p.parse_args(argv)
    config = yaml.safe_load(Path(args.config).read_text())
    if args.tier:
        config["tier"] = args.tier
    check_schema(config)
    tables = load_results(args.results).tables
    data_dir = Layout(args.results).data_dir
    claims = [c for c in CLAIMS if (c.key in args.claims if args.claims else c.seed)]
    flips = 0
    for claim in claims:
        full = claim.evaluate(Results(tables, config, None, data_dir))
        cells = set().union(
            *(Results(tables, config, None).studies.get(s, ()) for s in claim.studies)
        )
        runs = tables["runs"]
        seeds = sorted(runs.loc[runs["cell"].isin(cells), "seed"].unique())
        changed = []
        for seed in seeds:
            left = claim.evaluate(
                Results(without_seed(tables, cells, seed), config, None, data_dir)
            )
            if left.verdict != full.verdict:
                changed.append(f"{seed} ({left.verdict})")
        flips += bool(changed)
        print(
            f"{claim.key}: {full.verdict} on {len(seeds)} seeds; leaving one out changes it: "
            + (", ".join(changed) if changed else "never")
        )
    return 1 if flips else 0


if __name__ == "__main__":
    sys.exit(main())
