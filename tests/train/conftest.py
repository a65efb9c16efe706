"""A small real corpus for the training tests: the standard library's first top-level modules, as a directory."""

import shutil
from pathlib import Path

import pytest

from dglsp.models.blank import stdlib_files


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    for path in stdlib_files(16):
        shutil.copy(path, root / path.name)
    return root
