# The HTML report: its sections drawn from results/ while the findings are judged (each in
# a process of its own), then the page, with the verdicts from findings.json.
rule report_sections:
    input:
        rules.aggregate.output,
    output:
        figures=report(
            directory("report/figures"),
            patterns=["{name}.png"],
            caption="captions/figures.rst",
            category="Figures",
            labels={"figure": "{name}"},
        ),
        sections="results/report/sections.json",
    log:
        "logs/report_sections.log",
    run:
        jobs.in_own_process(
            jobs.report_sections_job,
            config,
            "results",
            output.figures,
            output.sections,
            log[0],
        )


rule report:
    input:
        sections=rules.report_sections.output.sections,
        findings=rules.findings.output.json,
    output:
        html="report/index.html",
        claim_figures=directory("report/findings"),
    log:
        "logs/report.log",
    run:
        jobs.in_own_process(
            jobs.report_job,
            input.sections,
            input.findings,
            output.html,
            log[0],
        )
