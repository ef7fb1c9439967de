"""The report's figures in a Python process of their own, so that they are drawn beside
the findings (rules/report.smk); ``snakemake`` is the object Snakemake's script directive sets."""

from initbench import jobs

jobs.report_sections_job(
    snakemake.config,
    "results",
    snakemake.output.figures,
    snakemake.output.sections,
    snakemake.log[0],
)
