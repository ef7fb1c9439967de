"""Checks run by profiles/slurm before Snakemake parses its arguments.

Without them a missing executor plugin ends in argparse's hundred-line usage text, and an
unreachable controller in a traceback per job after a 20-second timeout each. The profile
calls :func:`slurm_executor` for its ``executor`` value, so both become one line.
"""

import importlib.util
import shutil
import subprocess
import sys

PLUGIN = "snakemake_executor_plugin_slurm"
INSTALL = 'pip install -e ".[slurm]"'
# Commands that never submit a job, so they need no controller.
OFFLINE_FLAGS = ("--dry-run", "--dryrun", "--lint", "--unlock", "--list-rules", "--summary")


def slurm_executor(argv=None):
    """``"slurm"`` when jobs can be submitted; otherwise one line on stderr and exit 1."""
    problem = missing_plugin() or (None if offline(argv) else unreachable_controller())
    if problem:
        print(f"initbench: {problem}", file=sys.stderr)
        sys.exit(1)
    return "slurm"


def missing_plugin():
    if importlib.util.find_spec(PLUGIN) is None:
        return f"the SLURM profile needs snakemake-executor-plugin-slurm: {INSTALL}"
    return None


def unreachable_controller(timeout=30):
    """Why no SLURM controller answers ``scontrol ping`` here, or None when one does."""
    if shutil.which("scontrol") is None or shutil.which("sbatch") is None:
        return ("SLURM's commands (scontrol, sbatch) are not installed here: "
                "run on the cluster's login node")  # fmt: skip
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True,
                              timeout=timeout)  # fmt: skip
    except subprocess.TimeoutExpired:
        ping = None
    if ping is not None and ping.returncode == 0 and " UP" in ping.stdout:
        return None
    return ("no SLURM controller answers (scontrol ping): start slurmctld "
            "(tests/slurm/start-cluster.sh starts a local test cluster)")  # fmt: skip


def offline(argv=None):
    """True when the command line only plans or inspects (-n, --lint, --unlock, ...)."""
    args = sys.argv[1:] if argv is None else argv
    short = [a[1:] for a in args if a.startswith("-") and not a.startswith("--")]
    return any(a.split("=")[0] in OFFLINE_FLAGS for a in args) or any("n" in s for s in short)
