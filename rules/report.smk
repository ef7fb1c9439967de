rule report:
    input:
        rules.aggregate.output,
    output:
        "report/index.html",
        report(
            directory("report/figures"),
            patterns=["{name}.png"],
            caption="captions/figures.rst",
            category="Figures",
            labels={"figure": "{name}"},
        ),
    log:
        "logs/report.log",
    run:
        ib.report_job(config, PLAN, "results", output[0], log[0])
