"""initbench: config -> plan -> data -> train -> results -> findings -> report.

snakemake --cores 8                                # the default study
snakemake --cores 2 --config tier=paper            # its paper tier
snakemake --cores 2 --configfile config/quick.yaml # a small one, for a first look
"""

from snakemake.utils import min_version

min_version("8.0")


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/results.smk"
include: "rules/findings.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        LAYOUT.page,


# The run is over: Snakemake's process may exit at once (jobs.end_of_run).
onsuccess:
    jobs.end_of_run()


onerror:
    jobs.end_of_run()
