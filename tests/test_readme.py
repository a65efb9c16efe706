"""The README's set-up commands are what CI runs and what the CLI accepts."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(python3 -m venv .venv && .*?)\n```", text)


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one():
    commands = readme_commands()
    assert len(commands) == 2
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci.splitlines()
    assert "pytest" in commands[1] and "dglsp fill" in commands[0]


def test_the_try_it_command_points_at_a_fixture_cursor_that_exists():
    cursor = re.search(r"dglsp fill (\S+):(\d+):(\d+)", readme_commands()[0])
    path, line, col = REPO / cursor.group(1), int(cursor.group(2)), int(cursor.group(3))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert 1 <= line <= len(lines) and 1 <= col <= len(lines[line - 1]) + 1
