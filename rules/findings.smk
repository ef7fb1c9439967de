# Every published claim judged on the study tables: verdicts in findings.json (and a copy
# per tier, so the report can set the default and paper tiers side by side), one figure each.
# A script (its own process), so that it runs beside report_sections rather than taking
# turns with it for Python's global lock.
rule findings:
    input:
        rules.aggregate.output,
        expand("results/data/{dataset}.npz", dataset=PLAN.datasets),
    output:
        json="results/findings.json",
        tier=f"results/findings-{config.get('tier', 'default')}.json",
        figures=directory("results/findings"),
    log:
        "logs/findings.log",
    script:
        "../scripts/findings.py"
