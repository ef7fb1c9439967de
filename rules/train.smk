# Compile once per dtype (and plugin activation), then train the cells in batches: one job per
# batch (a fixed share of one activation's cells), which trains only its untrained cells.
rule warmup:
    output:
        "results/jit/{kernels}-{dtype}.done",
    log:
        "logs/warmup/{kernels}-{dtype}.log",
    priority: warmup_priority
    resources:
        jit=1,
    run:
        jobs.warm_up(wildcards.kernels, wildcards.dtype, output[0], log[0])


rule train:
    input:
        data=lambda wc: batch_datasets(wc.batch).values(),
        jit=lambda wc: ancient(batch_kernels(wc.batch)),
    output:
        "results/batches/{batch}.json",  # the batch's cells and what the job cost
    log:
        "logs/train/{batch}.log",
    priority: batch_priority
    threads: config["threads"]
    params:
        # the cells' names: content hashes, so the job reruns exactly when its cells change
        cells=lambda wc: PLAN.batches[wc.batch],
    run:
        jobs.train_batch(PLAN, wildcards.batch, input.data, output[0], log[0], threads)
