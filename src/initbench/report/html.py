"""The page: table and cell entries for the template, and rendering it to HTML."""

import base64
import math
from pathlib import Path

import jinja2


def render(context):
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("initbench.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(**context)


def cell(text, value=None):
    """A table cell: shown text and (numeric columns) the value it sorts by."""
    if value is not None and isinstance(value, float) and math.isnan(value):
        value = "NaN"
    return {"text": text, "v": value}


def table(table_id, columns, rows, caption="", sortable=True, scroll=False, filter=None, title=""):
    """A table for the template; ``filter`` (default: over 10 rows) adds a filter box."""
    return {
        "id": table_id,
        "caption": caption,
        "sortable": sortable,
        "scroll": scroll,
        "title": title,
        "filter": len(rows) > 10 if filter is None else filter,
        "columns": [{"label": label, "num": num} for label, num in columns],
        "rows": rows,
    }


def data_uri(png):
    """The PNG file as a data: URI, so the page carries its figures and can be mailed alone."""
    return "data:image/png;base64," + base64.b64encode(Path(png).read_bytes()).decode("ascii")
