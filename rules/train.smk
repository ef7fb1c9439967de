rule dataset:
    output:
        "results/data/{dataset}.npz",
    log:
        "logs/dataset/{dataset}.log",
    params:
        spec=lambda wc: PLAN.datasets[wc.dataset],
        seed=config["data_seed"],
    run:
        ib.make_dataset(*params.spec, params.seed, output[0], log[0])


rule warmup:
    output:
        "results/jit/{activation}-{dtype}.done",
    log:
        "logs/warmup/{activation}-{dtype}.log",
    resources:
        jit=1,
    run:
        ib.warm_up(wildcards.activation, wildcards.dtype, output[0], log[0])


rule train:
    input:
        data=lambda wc: f"results/data/{PLAN.cells[wc.cell].dataset}.npz",
        jit=lambda wc: ancient(
            "results/jit/{0.activation}-{0.dtype}.done".format(PLAN.cells[wc.cell])
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
        cell=lambda wc: PLAN.cells[wc.cell],
    run:
        ib.train_job(params.cell, input.data, output, log[0], threads)


rule aggregate:
    input:
        expand(
            "results/cells/{cell}/{kind}.parquet",
            cell=PLAN.cells,
            kind=["runs", "curves", "layers"],
        ),
    output:
        runs="results/runs.parquet",
        curves="results/curves.parquet",
        layers="results/layers.parquet",
        cost="results/cost.parquet",
        studies="results/studies.parquet",
    log:
        "logs/aggregate.log",
    run:
        ib.aggregate(
            PLAN, config, "results/cells", "results/benchmarks", output, log[0]
        )
