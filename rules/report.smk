# The HTML report: figures and tables from results/, verdicts from findings.json.
rule report:
    input:
        rules.aggregate.output,
        findings=rules.findings.output.json,
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
        jobs.report_job(config, "results", input.findings, output[0], log[0])
