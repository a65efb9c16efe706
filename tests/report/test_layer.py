"""dglsp/report sits below bench and train, which both use it: it must import nothing else from dglsp."""

import ast
from pathlib import Path

import dglsp.report

REPORT = Path(dglsp.report.__file__).parent


def test_report_imports_nothing_else_from_dglsp():
    outside = []
    for path in REPORT.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                name = "." * node.level + (node.module or "")
                if node.level >= 2 or name.startswith("dglsp"):
                    outside.append(f"{path.name}: {name}")
            elif isinstance(node, ast.Import):
                outside += [f"{path.name}: {a.name}" for a in node.names if a.name.startswith("dglsp")]
    assert outside == []
