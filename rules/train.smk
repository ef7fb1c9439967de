# Compile once per dtype (and plugin activation), then train the cells in batches: one job per
# batch (a fixed share of one activation's cells), which trains only its untrained cells.
rule compile_part:
    # each part in a process of its own (none when it is cached), side by side, writing
    # Numba's cache under a lock (engine/jit.py); a compile slot each (profiles allow two)
    output:
        LAYOUT.compile_part("{dtype}", "{part}"),
    log:
        "logs/warmup/builtin-{dtype}-{part}.log",
    priority: part_priority
    resources:
        jit=1,
    run:
        jobs.compile_part_job(wildcards.part, wildcards.dtype, output[0], log[0])


rule warmup:
    input:
        warmup_parts,
    output:
        LAYOUT.warmup("{kernels}", "{dtype}"),
    log:
        "logs/warmup/{kernels}-{dtype}.log",
    priority: warmup_priority
    resources:
        jit=1,
    run:
        jobs.warmup_job(wildcards.kernels, wildcards.dtype, output[0], log[0])


rule train:
    input:
        data=lambda wc: batch_datasets(wc.batch).values(),
        # not ancient(): a warm-up rerun with its marker in place (its rule's code changed,
        # --forcerun) then left Snakemake 9.27 scheduling no training job, new cells
        # untrained; a rerun job skips its trained cells, so this costs little
        jit=lambda wc: batch_kernels(wc.batch),
    # Each cell's tables go to results/measured/<cell>/ (LAYOUT.cell_tables), undeclared: a
    # batch trains only its cells without tables, while Snakemake would delete a declared
    # output before rerunning the job, and retrain every cell of the batch. The marker
    # below names the batch's cells; the aggregate reads their folders.
    output:
        LAYOUT.batch("{batch}"),  # the batch's cells and what the job cost
    log:
        "logs/train/{batch}.log",
    priority: batch_priority
    threads: config["threads"]
    params:
        # the cells' names: content hashes, so the job reruns exactly when its cells change
        cells=lambda wc: PLAN.batches[wc.batch],
        results=LAYOUT.results,
    run:
        jobs.train_job(
            PLAN,
            wildcards.batch,
            input.data,
            params.results,
            output[0],
            log[0],
            threads,
        )
