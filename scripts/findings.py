"""The findings job in a Python process of its own, so that it runs beside the report's
figures (rules/findings.smk); ``snakemake`` is the object Snakemake's script directive sets."""

from initbench import jobs

jobs.findings_job(
    snakemake.config,
    "results",
    [snakemake.output.json, snakemake.output.tier],
    snakemake.output.figures,
    snakemake.log[0],
)
