"""The libraries a user might pick instead of cassnb, measured in an environment of their own.

async-cassandra (whose API cassnb adopts) requires Python 3.12 or newer, so the benchmark builds
``build/bench-peers``: a virtual environment from the first Python >= 3.12 it finds, with async-cassandra,
acsylla (on the DataStax C++ driver) and scyllapy (on the Rust driver) at fixed versions, and the same
cassandra-driver version as cassnb's environment so async-cassandra runs on the same driver. Each
measurement runs :mod:`benchmarks.peer_worker` in a fresh process of that environment. Where no Python
3.12 exists or the install fails, the peers' rows say "not available" and why; nothing else is affected.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from importlib import metadata
from pathlib import Path

from benchmarks.harness import Context, Unavailable

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "build" / "bench-peers"
WORKER = Path(__file__).with_name("peer_worker.py")
PACKAGES = ("async-cassandra==0.0.1", "acsylla==1.2.0", "scyllapy==1.3.3", "pandas")
ASYNC_CASSANDRA, ACSYLLA, SCYLLAPY = (
    "async-cassandra 0.0.1 (Python 3.12)",
    "acsylla 1.2.0 (C++ driver; reference)",
    "scyllapy 1.3.3 (Rust driver; reference)",
)


def _python312() -> str | None:
    """A Python >= 3.12: $CASSNB_BENCH_PYTHON, then python3.13/3.12 on PATH, then pyenv's versions."""
    candidates = [os.environ.get("CASSNB_BENCH_PYTHON", ""), "python3.13", "python3.12"]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[2-9]*/bin/python3")), reverse=True)
    for candidate in filter(None, candidates):
        path = shutil.which(candidate) or candidate
        try:
            check = subprocess.run(
                [path, "-c", "import sys; sys.exit(sys.version_info < (3, 12))"], capture_output=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if check.returncode == 0:
            return path
    return None


@functools.cache
def python() -> str:
    """The peers' interpreter, building its environment on first use; raises Unavailable when it cannot."""
    stamp = VENV / ".installed"
    wanted = "\n".join((*PACKAGES, f"cassandra-driver=={metadata.version('cassandra-driver')}"))
    interpreter = VENV / "bin" / "python"
    if stamp.exists() and stamp.read_text() == wanted:
        return str(interpreter)
    base = _python312()
    if base is None:
        raise Unavailable("no Python 3.12+ found (set CASSNB_BENCH_PYTHON)")
    try:
        if not interpreter.exists():
            subprocess.run([base, "-m", "venv", str(VENV)], check=True, capture_output=True)
        subprocess.run([str(interpreter), "-m", "pip", "install", "-q", *wanted.splitlines()],
                       check=True, capture_output=True, timeout=900)  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise Unavailable(f"could not build {VENV}: {detail.decode(errors='replace').strip()[-200:] or exc}") from None
    stamp.write_text(wanted)
    return str(interpreter)


def job(ctx: Context, name: str, **arguments: object) -> Callable[[], Awaitable[dict[str, float]]]:
    """A contender's run(): one measurement of ``name`` (a :data:`peer_worker.JOBS` key) in a fresh process."""

    async def run() -> dict[str, float]:
        command = (python(), str(WORKER))
        return await ctx.in_subprocess(ctx.spec(name, **arguments), command=command)

    return run


if __name__ == "__main__":  # build (or check) the environment: python -m benchmarks.peers
    print(python())
    sys.exit(0)
