# Compile once per activation and dtype, then train every cell (all its seeds) as one job.
rule warmup:
    output:
        "results/jit/{activation}-{dtype}.done",
    log:
        "logs/warmup/{activation}-{dtype}.log",
    resources:
        jit=1,
    run:
        jobs.warm_up(wildcards.activation, wildcards.dtype, output[0], log[0])


rule train:
    input:
        data=lambda wc: f"results/data/{cell_of(wc).dataset}.npz",
        jit=lambda wc: ancient(
            "results/jit/{0.activation}-{0.dtype}.done".format(cell_of(wc))
        ),
    output:
        runs="results/cells/{cell}/runs.parquet",
        curves="results/cells/{cell}/curves.parquet",
        layers="results/cells/{cell}/layers.parquet",
    log:
        "logs/train/{cell}.log",
    benchmark:
        "results/benchmarks/{cell}.tsv"
    threads: config["threads"]
    params:
        cell=cell_of,
    run:
        jobs.train_job(params.cell, input.data, output, log[0], threads)
