"""Replay `initbench status` at past moments of a finished run: estimated against actual
wall time left.

    python benchmarks/status_replay.py --configfile config/config.yaml --results results \\
        --cores 2 --report report/index.html --at 0.25 0.5 0.75

At each fraction of the run (from its first data file to the report), the results tree as
it stood then (the cells and job records whose files were there by that time, by their
modification times) is linked into a scratch folder and read by ``study_status``; the
actual time left is the report's time minus that moment. It reads the finished run only.
"""

import argparse
import os
import tempfile
from pathlib import Path

import yaml

from initbench.layout import Layout
from initbench.status import study_status
from initbench.text import seconds_text


def tree_at(results, moment, scratch):
    """A results tree in ``scratch`` holding what ``results`` held at ``moment``."""
    results, scratch = Layout(results), Layout(scratch)
    scratch.measured.mkdir(parents=True)
    scratch.batches.mkdir()
    os.symlink(results.data_dir.resolve(), scratch.data_dir)
    for cell in results.measured.iterdir():
        if max(p.stat().st_mtime for p in cell.iterdir()) <= moment:
            os.symlink(cell.resolve(), scratch.measured / cell.name)
    for record in results.batches.glob("*.json"):
        if record.stat().st_mtime <= moment:
            os.symlink(record.resolve(), scratch.batches / record.name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", default="config/config.yaml")
    parser.add_argument("--results", default="results")
    parser.add_argument("--report", default="report/index.html")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--at", type=float, nargs="+", default=[0.25, 0.5, 0.75])
    args = parser.parse_args()
    results = Path(args.results)
    config = yaml.safe_load(Path(args.configfile).read_text())
    start = min(p.stat().st_mtime for p in Layout(results).data_dir.glob("*.npz"))
    end = Path(args.report).stat().st_mtime
    for fraction in args.at:
        moment = start + fraction * (end - start)
        with tempfile.TemporaryDirectory() as scratch:
            tree_at(results, moment, Path(scratch) / "results")
            status = study_status(config, Path(scratch) / "results", args.cores)
        done, cells = status["all"]["done"], status["all"]["cells"]
        print(f"at {fraction:.0%} of the run ({done}/{cells} cells): estimated "
              f"{seconds_text(status['wall_s_left']['total'])} left, actual "
              f"{seconds_text(end - moment)}")  # fmt: skip


if __name__ == "__main__":
    main()
