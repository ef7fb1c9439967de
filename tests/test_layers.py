"""The package's floors: the analysis layers read tables and never import the engine."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import initbench

PACKAGE = Path(initbench.__file__).parent
ANALYSIS = ["outcomes.py", "tables.py", "cell.py", "settings.py", "findings", "report",
            "nearby.py", "status.py", "layout.py", "results.py"]  # fmt: skip
# Commands that evaluate the theory or expand a plan, which need the activations: they
# reach the engine only through theory.py, inits.py or plan.py, never by importing it.
THROUGH_THEORY = ["advise.py", "variances.py"]


def _imports(path):
    """Every module a file imports, relative imports resolved to initbench.*."""
    parts = ["initbench", *path.relative_to(PACKAGE).with_suffix("").parts]
    package = parts[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            yield ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                yield ".".join([*base, *([node.module] if node.module else []), alias.name])
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_analysis_layers_do_not_import_the_engine():
    files = [p for name in [*ANALYSIS, *THROUGH_THEORY]
             for p in ([PACKAGE / name] if name.endswith(".py")
                       else (PACKAGE / name).rglob("*.py"))]  # fmt: skip
    offending = {str(p.relative_to(PACKAGE)): m for p in files for m in _imports(p)
                 if m.startswith("initbench.engine")}  # fmt: skip
    assert not offending


# Modules that must load without the kernels (no initbench.engine, no numba):
# the tables; status and the advice's evidence (status loads the plan, and so the
# activations, only when it runs); findings and report (theory reaches them as a table,
# results/theory.parquet, not through the activations).
KERNEL_FREE = [
    "initbench.outcomes, initbench.tables, initbench.layout, initbench.results",
    "initbench.status, initbench.nearby",
    "initbench.findings, initbench.report.build",
]


@pytest.mark.parametrize("modules", KERNEL_FREE)
def test_modules_load_without_the_kernels(modules):
    code = (
        f"import sys, {modules}; "
        "print(sorted(m for m in sys.modules if m.startswith(('initbench.engine', 'numba'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
