rule report:
    input:
        rules.aggregate.output,
    output:
        "report/index.html",
    log:
        "logs/report.log",
    run:
        ib.report_job(config, PLAN, "results", output[0], log[0])
