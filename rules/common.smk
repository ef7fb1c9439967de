# Shared by every rule: the validated config, its plan (the cells), wildcard constraints.
from snakemake.exceptions import WorkflowError

from initbench import jobs
from initbench.jobs import theory_key
from initbench.config import ConfigError, check_config_files
from initbench.engine.activations import kernel_family
from initbench.engine.compile_parts import PARTS as COMPILE_PARTS
from initbench.layout import Layout
from initbench.plan import job_priorities, plan
from initbench.processes import use_job_server


def given_cores():
    """Snakemake's --cores; 1 for commands given none (--unlock)."""
    try:
        return workflow.cores
    except WorkflowError:
        return 1


# The config comes from the default profile (config/config.yaml) or from --configfile,
# which replaces it rather than being merged into it (a configfile directive would merge).
try:
    check_config_files(workflow.configfiles)
    # plan() validates the config once and fills in the schema's defaults (tier, threads, ...)
    PLAN = plan(config, cores=given_cores())  # more cores, more training jobs
except ConfigError as error:
    jobs.print_error_and_exit(error)
PRIORITIES = job_priorities(PLAN)
LAYOUT = Layout()  # every path below results/ and report/ (layout.py)
jobs.check_device(config)
# the pipeline's own process (not a cluster job's, which runs one job)
if getattr(workflow, "is_main_process", False):
    use_job_server(jobs.JOB_SERVER_MODULES)
jobs.freeze_long_lived_objects()  # the modules, the plan: out of every later collection


wildcard_constraints:
    batch=r"[A-Za-z0-9][A-Za-z0-9_+=.\-]*",
    dataset=r"[A-Za-z0-9][A-Za-z0-9_+=.]*",
    kernels=r"[A-Za-z0-9][A-Za-z0-9_+=.]*",
    dtype=r"float32|float64",
    part=r"[a-z]+",


def batch_cells(batch):
    return [PLAN.cells[name] for name in PLAN.batches[batch]]


def batch_priority(wildcards):
    """The training job's rank by estimated work: the longest jobs start first."""
    return PRIORITIES[wildcards.batch]


def dataset_priority(wildcards):
    """Just above the most urgent training job that waits for this dataset (at 0, a
    dataset only the longest jobs need was made after every other job had started)."""
    return priority_above(lambda batch: wildcards.dataset in batch_datasets(batch))


def warmup_priority(wildcards):
    """Above the most urgent training job that waits for these kernels, and above the
    datasets that job waits for: the compile (its parts, then this warm-up) is the longer
    path (10-12 s against 0.5 s in the quick study, cold), so a dataset takes a core
    beside it, and the warm-up starts as soon as its parts are done."""
    return kernels_priority(wildcards.kernels, wildcards.dtype)


def part_priority(wildcards):
    """The priority of the warm-up that waits for this compile part."""
    return kernels_priority("builtin", wildcards.dtype)


def kernels_priority(kernels, dtype):
    marker = LAYOUT.warmup(kernels, dtype)
    return 1 + priority_above(lambda batch: marker in batch_kernels(batch))


def warmup_parts(wildcards):
    """The compile parts a warm-up loads: the built-in kernels' loop compiles in parts
    side by side first (engine/compile_parts.py); a plugin activation's in one piece."""
    if wildcards.kernels != "builtin":
        return []
    return [LAYOUT.compile_part(wildcards.dtype, part) for part in COMPILE_PARTS]


def priority_above(waits):
    """1 + the priority of the most urgent training job for which ``waits(batch)`` (0 when
    none does: a dataset no study trains on is still made for the findings)."""
    return 1 + max((p for batch, p in PRIORITIES.items() if waits(batch)), default=-1)


def batch_kernels(batch):
    """The warm-up marker of the kernels a batch's cells run on (one activation, dtype): one
    compiled loop trains plain and residual nets alike."""
    cells = batch_cells(batch)
    return [LAYOUT.warmup(kernel_family(cells[0].activation), cells[0].dtype)]


def batch_datasets(batch):
    """{dataset label: its data file} for the cells of one batch."""
    labels = sorted({cell.dataset for cell in batch_cells(batch)})
    return {label: LAYOUT.dataset(label) for label in labels}
