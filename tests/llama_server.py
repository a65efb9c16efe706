"""llama.cpp's own `llama-server`, built from the sources PyPI carries, serving the tiny GGUF (tiny_gguf.py).

The binary is found as $DGLSP_LLAMA_SERVER, `llama-server` on PATH, or the one built into pytest's cache from
the llama.cpp vendored in the llama-cpp-python sdist (`python tests/llama_server.py build`, or the tests' fixture
when none is found: about 7 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SDIST = "llama-cpp-python==0.3.36"  # its vendor/llama.cpp is the llama.cpp these tests ran against
CACHE = Path(__file__).resolve().parents[1] / ".pytest_cache" / "d" / "llama-server"
CMAKE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DGGML_NATIVE=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
)


READY = "listening on http"  # logged once the model is loaded and requests are served


def find_llama_server(cache: Path = CACHE) -> Path | None:
    for candidate in (os.environ.get("DGLSP_LLAMA_SERVER"), shutil.which("llama-server"), cache / "llama-server"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def build_llama_server(cache: Path = CACHE) -> Path:
    """Download the sdist from PyPI, build only the `llama-server` target, keep the binary in `cache`."""
    cache.mkdir(parents=True, exist_ok=True)
    work = cache / "src"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", SDIST, "-d", work],
        check=True,
    )
    (archive,) = work.glob("llama_cpp_python-*.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    source = next(work.glob("llama_cpp_python-*/vendor/llama.cpp"))
    build = source / "build"
    subprocess.run(["cmake", "-S", source, "-B", build, *CMAKE_FLAGS], check=True)
    jobs = str(os.cpu_count() or 2)
    subprocess.run(["cmake", "--build", build, "--target", "llama-server", "-j", jobs], check=True)
    shutil.copy2(build / "bin" / "llama-server", cache / "llama-server")
    shutil.rmtree(work)
    return cache / "llama-server"


@contextmanager
def llama_server(binary: Path, model: Path, port: int, alias: str) -> Iterator[str]:
    """A running server on 127.0.0.1:`port`; its URL once it says it listens."""
    command = [binary, "-m", model, "--host", "127.0.0.1", "--port", str(port), "--alias", alias]
    # A context beyond the batch, so /infill has room for other files (input_extra) before the FIM prompt.
    command += ["-c", "4096", "-b", "1024", "-np", "1", "-t", "1", "--no-webui"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = []
    try:
        for line in proc.stdout:
            log.append(line)
            if READY in line:
                break
        else:
            raise RuntimeError("llama-server exited before it served:\n" + "".join(log[-30:]))
        # Its log goes on: read it, or the pipe fills and the server blocks on its next line.
        threading.Thread(target=lambda: log.extend(proc.stdout), daemon=True).start()
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["build", "where"])
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args()
    if args.command == "where":
        print(find_llama_server(args.cache) or "no llama-server found")
        return
    start = time.monotonic()
    binary = build_llama_server(args.cache)
    print(f"built {binary} in {(time.monotonic() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
