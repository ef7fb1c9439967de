# The HTML report: its sections drawn from results/ while the findings are judged (each in
# a process of its own), then the page, with the verdicts from findings.json (light: a
# thread of Snakemake's process, report/page.py).
rule report_sections:
    input:
        rules.aggregate.output,
        rules.theory.output,
    output:
        figures=report(
            directory(LAYOUT.page_figures),
            patterns=["{name}.png"],
            caption="captions/figures.rst",
            category="Figures",
            labels={"figure": "{name}"},
        ),
        sections=LAYOUT.sections,
    log:
        "logs/report_sections.log",
    run:
        jobs.report_sections_job(
            config, LAYOUT.results, output.figures, output.sections, log[0]
        )


rule report:
    input:
        sections=rules.report_sections.output.sections,
        findings=rules.findings.output.json,
    output:
        html=LAYOUT.page,
        claim_figures=directory(LAYOUT.page_claim_figures),
    log:
        "logs/report.log",
    run:
        jobs.report_job(input.sections, input.findings, output.html, log[0])
