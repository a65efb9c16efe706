from concurrent.futures import ThreadPoolExecutor

import pytest

from dglsp.bench.humaneval_tasks import SUITES, build_tasks, load_problems
from dglsp.bench.infill_run import fill_for_task
from dglsp.bench.sandbox import run_program


@pytest.fixture(scope="module")
def problems():
    return load_problems()


COUNTS = [("humaneval-single", 1033), ("humaneval-multi", 5815), ("humaneval-span", 1640)]


@pytest.mark.parametrize(("suite", "count"), COUNTS)
def test_counts_match_the_papers(suite, count):
    tasks = build_tasks(suite)
    assert len(tasks) == count
    assert len({t.task_id for t in tasks}) == count


def test_every_task_cuts_the_canonical_solution_and_the_reference_passes(problems):
    by_id = {p.task_id: p for p in problems}
    for suite in SUITES:
        for task in build_tasks(suite):
            # prefix + middle + suffix is the problem's own program, so the oracle's run is the problem's.
            p = by_id[task.problem.task_id]
            assert task.prefix + task.middle + task.suffix == p.prompt + p.solution
            assert task.middle and task.prefix.startswith(p.prompt)
            if task.single_line:
                assert task.middle.count("\n") == 1 and task.middle.endswith("\n") and task.middle.strip()
    tasks = list({t.problem.task_id: t for t in build_tasks("humaneval-single")}.values())
    assert len(tasks) == 164
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda t: run_program(t.program(t.middle), timeout=20), tasks))
    failed = [(t.task_id, o.detail) for t, o in zip(tasks, outcomes, strict=True) if not o.passed]
    assert failed == []


def test_the_empty_fill_fails():
    tasks = build_tasks("humaneval-single", limit=40)
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda t: run_program(t.program(fill_for_task(t, "")), timeout=20), tasks))
    # A few reference lines are redundant (27 of 1033 pass empty), so not every one fails; nearly all must.
    assert sum(o.passed for o in outcomes) <= 3
    assert not outcomes[0].passed and "Error" in outcomes[0].detail


def test_random_spans_depend_on_the_seed_not_on_the_limit():
    a, b = build_tasks("humaneval-span", seed=0), build_tasks("humaneval-span", seed=1)
    assert [t.middle for t in a] != [t.middle for t in b]
    assert build_tasks("humaneval-span", seed=0) == a
    spread = build_tasks("humaneval-span", seed=0, limit=50)
    assert len(spread) == 50 and all(t in a for t in spread)
    assert len({t.problem.task_id for t in spread}) > 40  # spread over the problems, not the first five


def test_multi_line_blocks_start_and_end_on_code():
    for task in build_tasks("humaneval-multi", limit=300):
        lines = task.middle.splitlines()
        assert lines[0].strip() and lines[-1].strip() and task.middle.endswith("\n")
        assert task.prefix.endswith("\n")


def test_unknown_suite_is_refused():
    with pytest.raises(ValueError, match="unknown suite"):
        build_tasks("mbpp")
