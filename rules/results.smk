# The cells' tables concatenated into the study tables under results/, and the mean-field
# theory at the studies' settings (results/theory.parquet), which the findings compare with.
rule aggregate:
    input:
        expand("results/batches/{batch}.json", batch=PLAN.batches),
    output:
        runs="results/runs.parquet",
        curves="results/curves.parquet",
        layers="results/layers.parquet",
        cost="results/cost.parquet",
        studies="results/studies.parquet",
        theory="results/theory.parquet",
    log:
        "logs/aggregate.log",
    threads: 8  # Arrow reads; Snakemake caps it at --cores
    run:
        jobs.aggregate_job(
            PLAN,
            config,
            CELL_DIR,
            "results/batches",
            output,
            log[0],
            threads,
        )
