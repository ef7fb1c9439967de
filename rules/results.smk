# The cells' tables concatenated into the study tables under results/, and the mean-field
# theory at the studies' settings (results/theory.parquet), which the findings compare with.
rule aggregate:
    input:
        [LAYOUT.batch(batch) for batch in PLAN.batches],
    output:
        runs=LAYOUT.table("runs"),
        curves=LAYOUT.table("curves"),
        layers=LAYOUT.table("layers"),
        cost=LAYOUT.table("cost"),
        studies=LAYOUT.table("studies"),
        theory=LAYOUT.table("theory"),
    log:
        "logs/aggregate.log",
    threads: 8  # Arrow reads; Snakemake caps it at --cores
    run:
        jobs.aggregate_job(
            PLAN,
            config,
            LAYOUT.results,
            output,
            log[0],
            threads,
        )
