# One data split per dataset label, shared by every cell that trains on it.
rule dataset:
    output:
        LAYOUT.dataset("{dataset}"),
    log:
        "logs/dataset/{dataset}.log",
    priority: dataset_priority
    params:
        spec=lambda wc: PLAN.datasets[wc.dataset],
        seed=config["data_seed"],
    run:
        jobs.dataset_job(*params.spec, params.seed, output[0], log[0])
