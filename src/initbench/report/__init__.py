"""The study's HTML report, built from the aggregated tables and the findings.

``build`` writes the page; ``base.Report`` holds what sections share; one module per
section under ``sections/``; ``templates/report.html.j2`` is the page. The page has inline
CSS and JS and relative image links: it opens from disk with no server and no network.
"""

from .build import build_report

__all__ = ["build_report"]
