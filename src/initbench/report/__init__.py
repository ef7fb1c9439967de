"""The study's HTML report, built from the aggregated tables and the findings.

``build`` draws the sections; ``page`` writes the page from them and the findings;
``base.Report`` holds what sections share; one module per section under ``sections/``;
``templates/report.html.j2`` is the page. The page has inline CSS and JS and relative image
links: it opens from disk with no server and no network.
"""

__all__ = ["build_report"]


def __getattr__(name):
    """``build_report``, imported on first use: the page alone (``page``) needs neither
    matplotlib nor the tables, and importing this package must not load them."""
    if name == "build_report":
        from .build import build_report

        return build_report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
