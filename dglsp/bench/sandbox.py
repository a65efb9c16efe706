"""Run a generated program against its tests in a throw-away process that cannot harm the machine.

Layers, each cheap: a fresh temp dir as cwd, HOME and TMPDIR; `python -I` with a minimal environment; a new
network namespace when `unshare` allows it (no interfaces: no network at all); limits on CPU time, memory and
file size; and an audit hook, installed before the program runs and impossible to remove from Python, that
refuses sockets, subprocesses, signals, ctypes, and any write, delete or rename outside the temp dir. A pass
is counted only when the runner prints a per-run nonce after the tests return, so a program that exits
early (`sys.exit(0)`, `os._exit(0)`) fails. A timeout kills the whole process group.

This stops the accidents model-written code has (loops, stray writes, exits); it is not a boundary against
code written to escape it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Literal

Status = Literal["passed", "failed", "timeout"]

# Runs inside the child. argv: nonce, program path, cpu seconds, memory bytes, file-size bytes.
_RUNNER = r"""
import os, resource, sys
nonce, path, cpu, memory, fsize = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
sys.argv = ["program.py"]
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
root = os.path.realpath(os.getcwd()) + os.sep
source = open(path, encoding="utf-8").read()
out = os.dup(1)

DENIED = ("socket.", "subprocess.", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork",
          "os.forkpty", "os.kill", "os.killpg", "signal.pthread_kill", "ctypes.", "pty.", "os.setuid",
          "webbrowser.", "urllib.Request", "ftplib.", "smtplib.", "http.client.")
PATHS = {"os.remove": 1, "os.rmdir": 1, "os.mkdir": 1, "os.rename": 2, "os.replace": 2, "os.link": 2,
         "os.symlink": 2, "os.truncate": 1, "os.chmod": 1, "os.chown": 1, "os.utime": 1, "shutil.rmtree": 1,
         "shutil.move": 2, "shutil.copyfile": 2, "os.chdir": 1, "os.chroot": 1}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

def inside(p):
    if isinstance(p, int):
        return True
    real = os.path.realpath(os.fsdecode(p)) + os.sep
    return real.startswith(root)

def guard(event, args):
    if event.startswith(DENIED):
        raise PermissionError(f"sandbox: {event} refused")
    if event == "open":
        path, mode, flags = args
        writing = (mode and any(c in mode for c in "wax+")) or (flags or 0) & WRITE_FLAGS
        if writing and path is not None and not inside(path):
            raise PermissionError(f"sandbox: writing {path} refused")
    elif event in PATHS:
        for p in args[:PATHS[event]]:
            if p is not None and not inside(p):
                raise PermissionError(f"sandbox: {event} {p} refused")

sys.addaudithook(guard)
try:
    exec(compile(source, "program.py", "exec"), {"__name__": "__main__"})
except BaseException as exc:
    sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
    os._exit(1)
os.write(out, nonce.encode())
os._exit(0)
"""


@dataclass(frozen=True)
class Outcome:
    status: Status
    detail: str  # the last line of stderr for a failure, empty for a pass

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@functools.cache
def _netns_prefix() -> tuple[str, ...]:
    """`unshare -rn` when user and network namespaces work here, else nothing (the audit hook still refuses)."""
    tool = shutil.which("unshare")
    if tool is None:
        return ()
    try:
        probe = subprocess.run([tool, "-rn", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return (tool, "-rn") if probe.returncode == 0 else ()


def run_program(source: str, *, timeout: float = 5.0, memory_mb: int = 1024, file_mb: int = 16) -> Outcome:
    nonce = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="dglsp-sandbox-") as tmp:
        path = os.path.join(tmp, "program.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "TMPDIR": tmp, "PYTHONHASHSEED": "0", "LANG": "C.UTF-8"}
        argv = [
            *_netns_prefix(),
            sys.executable,
            "-I",
            "-c",
            _RUNNER,
            nonce,
            path,
            str(int(timeout) + 1),
            str(memory_mb << 20),
            str(file_mb << 20),
        ]
        proc = subprocess.Popen(
            argv,
            cwd=tmp,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            return Outcome("timeout", f"no result within {timeout:g} s")
        _kill_group(proc)  # anything it left running in its session goes too
    if proc.returncode == 0 and out.decode(errors="replace").endswith(nonce):
        return Outcome("passed", "")
    lines = err.decode(errors="replace").strip().splitlines()
    return Outcome("failed", lines[-1][:300] if lines else f"exit code {proc.returncode}, tests did not finish")


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
