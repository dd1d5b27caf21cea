"""Obtaining Apache Cassandra for the local development server.

Cassandra is resolved from Maven Central through ``mvn``: the server jar ``org.apache.cassandra:cassandra-all``
and its runtime dependencies are copied into a cache directory, which later runs reuse. (Maven Central does
not carry the 5.0 binary tarball, but it carries every jar the tarball would contain; cassnb writes its own
configuration and starts the daemon class directly, so nothing else from the tarball is needed.)

The version is pinned here and nowhere else.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import LocalServerError

CASSANDRA_VERSION = "5.0.9"
"""The Apache Cassandra release the local server runs: the newest 5.0.x that resolves on Maven Central."""

SUPPORTED_JAVA = (11, 17)

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>cassnb.local</groupId>
  <artifactId>cassandra-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId>
      <artifactId>cassandra-all</artifactId>
      <version>{version}</version>
    </dependency>
  </dependencies>
</project>
"""


def cache_dir() -> Path:
    """Where downloads and local servers live: ``$CASSNB_CACHE_DIR`` or ``~/.cache/cassnb``."""
    configured = os.environ.get("CASSNB_CACHE_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "cassnb"


@dataclass(frozen=True)
class Distribution:
    """A resolved Cassandra: its version and the directory holding every jar of its class path."""

    version: str
    lib: Path

    @property
    def classpath(self) -> str:
        return str(self.lib / "*")

    @property
    def jamm_agent(self) -> Path | None:
        """Cassandra measures object sizes with the jamm agent; without it some estimates are off."""
        return next(iter(sorted(self.lib.glob("jamm-*.jar"))), None)


def java_executable() -> str:
    """The ``java`` to run, from ``$JAVA_HOME`` or ``PATH``, checked to be a version Cassandra 5.0 supports."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not candidate or not Path(candidate).exists():
        raise LocalServerError(
            "Java was not found: the local Cassandra server needs Java 11 or 17. Install it "
            "(e.g. `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME."
        )
    major = java_major_version(candidate)
    if major not in SUPPORTED_JAVA:
        raise LocalServerError(
            f"{candidate} is Java {major}, but Cassandra {CASSANDRA_VERSION} runs only on Java 11 or 17. "
            "Install Java 17 and point JAVA_HOME at it."
        )
    return candidate


def java_major_version(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise LocalServerError(f"could not tell the version of {java} (`{java} -version` printed no version)")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def ensure_distribution(version: str = CASSANDRA_VERSION, *, echo: bool = True) -> Distribution:
    """Return the cached Cassandra jars for ``version``, resolving them through Maven on first use."""
    lib = cache_dir() / "dist" / f"cassandra-{version}" / "lib"
    if (lib / f"cassandra-all-{version}.jar").exists():
        return Distribution(version, lib)
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalServerError(
            "Maven (`mvn`) was not found: the local server obtains Cassandra from Maven Central through it. "
            "Install it (e.g. `apt-get install maven`) or point cassnb at an existing server with "
            "CASSNB_TEST_HOSTS / `%cql connect HOST`."
        )
    lib.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    if echo:
        print(f"cassnb: resolving Apache Cassandra {version} from Maven Central into {lib.parent} ...")
    with tempfile.TemporaryDirectory(dir=lib.parent, prefix=".resolve-") as work:
        pom = Path(work) / "pom.xml"
        pom.write_text(_POM.format(version=version))
        staging = Path(work) / "lib"
        cmd = [
            mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
            "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
        ]  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not (staging / f"cassandra-all-{version}.jar").exists():
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise LocalServerError(
                f"downloading Apache Cassandra {version} through Maven failed (exit {result.returncode}). "
                f"Check network access to Maven Central and `mvn` settings (~/.m2/settings.xml).\n{tail}"
            )
        staging.rename(lib)  # atomic: a half-finished download is never mistaken for a cached one
    if echo:
        print(f"cassnb: Cassandra {version} ready ({time.monotonic() - started:.1f}s)")
    return Distribution(version, lib)
