# The mean-field theory at the studies' settings (results/theory.parquet), which the findings
# compare with: from the plan, so it runs beside the training, in a process of its own; then
# the cells' tables concatenated into the study tables under results/.
rule theory:
    output:
        LAYOUT.table("theory"),
    log:
        "logs/theory.log",
    params:
        settings=theory_key(PLAN),  # rerun when the mean-field settings change
    run:
        jobs.in_own_process(jobs.theory_job, config, output[0], log[0])


rule aggregate:
    input:
        [LAYOUT.batch(batch) for batch in PLAN.batches],
    output:
        runs=LAYOUT.table("runs"),
        curves=LAYOUT.table("curves"),
        layers=LAYOUT.table("layers"),
        cost=LAYOUT.table("cost"),
        studies=LAYOUT.table("studies"),
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
