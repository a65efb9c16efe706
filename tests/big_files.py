"""Big source files made at test time, for what must not grow with a file's size."""

from __future__ import annotations

from pathlib import Path

from dglsp.models.blank import stdlib_files


def big_python_file(path: Path, lines: int = 66_000) -> Path:
    """A long, real-looking Python file (the standard library's code, repeated) of `lines` lines."""
    source = "".join(p.read_text(encoding="utf-8", errors="replace") for p in stdlib_files(12)).splitlines()
    path.write_text("\n".join(source[i % len(source)] for i in range(lines)) + "\n", encoding="utf-8")
    return path
