"""initbench: the grid in config/config.yaml, trained cell by cell, aggregated, reported.

snakemake --cores 8                                # the default study
snakemake --cores 2 --configfile config/quick.yaml # a small one, for a first look
"""

from snakemake.utils import min_version, validate

from initbench import workflow as ib
from initbench.config import SCHEMA_PATH, ConfigError, check_config_files, plan

min_version("8.0")


# The config comes from the default profile (config/config.yaml) or from --configfile,
# which replaces it rather than being merged into it (a configfile directive would merge).
try:
    check_config_files(workflow.configfiles)
    PLAN = plan(config)
except ConfigError as error:
    ib.print_error_and_exit(error)
validate(config, SCHEMA_PATH)


wildcard_constraints:
    cell=r"[A-Za-z0-9][A-Za-z0-9_+=.\-]*",
    dataset=r"[A-Za-z0-9][A-Za-z0-9_+=.]*",
    activation=r"[A-Za-z0-9][A-Za-z0-9_+=.]*",
    dtype=r"float32|float64",


rule all:
    default_target: True
    input:
        "report/index.html",


include: "rules/train.smk"
include: "rules/report.smk"
