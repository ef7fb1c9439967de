# Every published claim judged on the study tables: verdicts in findings.json, one figure each.
rule findings:
    input:
        rules.aggregate.output,
    output:
        json="results/findings.json",
        figures=directory("results/findings"),
    log:
        "logs/findings.log",
    run:
        jobs.findings_job(config, "results", output.json, output.figures, log[0])
