# Every published claim judged on the study tables: verdicts in findings.json (and a copy
# per tier, so the report can set the default and paper tiers side by side), one figure each.
# In a process of its own, so that it runs beside report_sections (jobs.findings_job).
rule findings:
    input:
        rules.aggregate.output,
        rules.theory.output,
        [LAYOUT.dataset(label) for label in PLAN.datasets],
    output:
        json=LAYOUT.findings,
        tier=LAYOUT.tier_findings(config["tier"]),
        figures=directory(LAYOUT.claim_figures),
    log:
        "logs/findings.log",
    run:
        jobs.findings_job(
            config,
            LAYOUT.results,
            [output.json, output.tier],
            output.figures,
            log[0],
        )
