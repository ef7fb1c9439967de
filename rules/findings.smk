# Every published claim judged on the study tables: verdicts in findings.json (and a copy
# per tier, so the report can set the default and paper tiers side by side), one figure each.
# In a process of its own, so that it runs beside report_sections (see jobs.in_own_process).
rule findings:
    input:
        rules.aggregate.output,
        expand("results/data/{dataset}.npz", dataset=PLAN.datasets),
    output:
        json="results/findings.json",
        tier=f"results/findings-{config['tier']}.json",
        figures=directory("results/findings"),
    log:
        "logs/findings.log",
    run:
        jobs.in_own_process(
            jobs.findings_job,
            config,
            "results",
            [output.json, output.tier],
            output.figures,
            log[0],
        )
