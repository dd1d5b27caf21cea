"""Configuration that cassnb writes for its local Cassandra instances: a single node, or one node of a ring.

Everything is written fresh on every start from a :class:`ServerSettings`, so what runs always matches what was
asked for (``--auth`` on or off, the port, the heap).

It is durable by default, because notebooks keep real work in it: a write is acknowledged only once its commit
log is on disk (``commitlog_sync: batch``), system tables are synced like any others, and ``DROP``/``TRUNCATE``
take a snapshot first. It starts fast on a small machine anyway (one token, no gossip settle wait, no superuser
setup delay).

``--fast`` (:attr:`ServerSettings.fast`) adds speed-ups that trade safety for test speed, for throw-away test
servers only: the commit log synced every 10 s (Cassandra's default: a crash loses the writes acknowledged
since), system tables not synced to disk (after a crash, schema changes and truncations can be undone and data
of tables whose schema was lost is skipped), no snapshot before ``DROP``/``TRUNCATE``, and cheap password
hashing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# Java 17 closed the JDK internals that Cassandra 5.0 still reaches; these are the openings it needs.
_JAVA17_MODULE_OPTIONS = (
    "--add-exports java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
    "--add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports java.rmi/sun.rmi.server=ALL-UNNAMED",
    "--add-exports java.sql/java.sql=ALL-UNNAMED",
    "--add-exports java.base/java.lang.ref=ALL-UNNAMED",
    "--add-exports jdk.unsupported/sun.misc=ALL-UNNAMED",
    "--add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "--add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED",
    "--add-opens java.base/java.lang.module=ALL-UNNAMED",
    "--add-opens java.base/jdk.internal.loader=ALL-UNNAMED",
    "--add-opens java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens java.base/jdk.internal.reflect=ALL-UNNAMED",
    "--add-opens java.base/jdk.internal.math=ALL-UNNAMED",
    "--add-opens java.base/jdk.internal.module=ALL-UNNAMED",
    "--add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED",
    "--add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED",
    "--add-opens java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens java.base/java.io=ALL-UNNAMED",
    "--add-opens java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
    "--add-opens java.base/java.lang=ALL-UNNAMED",
    "--add-opens java.base/java.util=ALL-UNNAMED",
)

_LOGBACK = """<configuration scan="false">
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>{log}</file>
    <encoder><pattern>%-5level [%thread] %date{{ISO8601}} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
"""


@dataclass(frozen=True)
class ServerSettings:
    """What one local server instance is: where it lives, its ports, memory and whether it checks passwords."""

    home: Path
    port: int = 9042
    auth: bool = False
    heap: str = "1G"
    fast: bool = False  # test servers only: see the module docstring
    address: str = "127.0.0.1"  # listen and native address; each node of a ring has a loopback address of its own
    ring: RingPlace | None = None  # None: a single node owning the whole ring

    @property
    def storage_port(self) -> int:
        return self.port - 2042  # 9042 -> 7000, Cassandra's usual pairing; another --port shifts both

    @property
    def jmx_port(self) -> int:
        # JMX listens on 127.0.0.1 only, whatever the node's address: every node needs a port of its own.
        return self.ring.jmx_port if self.ring else self.port - 1843  # 9042 -> 7199

    @property
    def conf_dir(self) -> Path:
        return self.home / "conf"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def system_log(self) -> Path:
        return self.log_dir / "system.log"

    @property
    def console_log(self) -> Path:
        return self.log_dir / "console.log"

    @property
    def pid_file(self) -> Path:
        return self.home / "cassandra.pid"

    @property
    def yaml_path(self) -> Path:
        return self.conf_dir / "cassandra.yaml"


@dataclass(frozen=True)
class RingPlace:
    """A node's place in a local ring: its tokens, the seed it joins through, and its JMX port."""

    cluster_name: str
    seed: str
    tokens: tuple[int, ...] = field(repr=False)
    jmx_port: int


def _commitlog(s: ServerSettings) -> str:
    """Durable: a write is acknowledged once the commit log holding it is on disk (``batch``). With the
    default ``periodic`` mode a crash, even of the server process alone, loses what was acknowledged since the
    last sync (the commit log is replayed only up to its last sync marker)."""
    return "commitlog_sync: periodic\ncommitlog_sync_period: 10000ms" if s.fast else "commitlog_sync: batch"


def cassandra_yaml(s: ServerSettings) -> str:
    auth = (
        "authenticator: PasswordAuthenticator\nauthorizer: CassandraAuthorizer\nrole_manager: CassandraRoleManager\n"
        if s.auth
        else "authenticator: AllowAllAuthenticator\nauthorizer: AllowAllAuthorizer\n"
    )
    data = s.data_dir
    if s.ring is None:
        name, seed, tokens, joining = "cassnb-local", f"127.0.0.1:{s.storage_port}", "0", ""
    else:
        # Explicit, evenly interleaved tokens: a new empty ring needs no token allocation and no streaming.
        name, seed = s.ring.cluster_name, f"{s.ring.seed}:{s.storage_port}"
        tokens, joining = ",".join(map(str, s.ring.tokens)), "auto_bootstrap: false\n"
    count = len(tokens.split(","))
    return f"""# Written by `cassnb local start`; rewritten on every start.
cluster_name: {name}
num_tokens: {count}
initial_token: {tokens}
{joining}partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "{seed}"
listen_address: {s.address}
rpc_address: {s.address}
storage_port: {s.storage_port}
native_transport_port: {s.port}
start_native_transport: true
data_file_directories: [{data / "data"}]
commitlog_directory: {data / "commitlog"}
saved_caches_directory: {data / "saved_caches"}
hints_directory: {data / "hints"}
cdc_raw_directory: {data / "cdc_raw"}
{_commitlog(s)}
auto_snapshot: {"false" if s.fast else "true"}
concurrent_compactors: 1
user_defined_functions_enabled: true
{auth}"""


def java_module_options() -> list[str]:
    return [part for option in _JAVA17_MODULE_OPTIONS for part in option.split(" ", 1)]


def jvm_arguments(s: ServerSettings, jamm_agent: Path | None) -> list[str]:
    args = [f"-Xms{s.heap}", f"-Xmx{s.heap}", "-Xss256k", "-XX:+UseG1GC", "-XX:+ParallelRefProcEnabled",
            "-XX:MaxTenuringThreshold=1", "-XX:+HeapDumpOnOutOfMemoryError",
            f"-XX:HeapDumpPath={s.log_dir}", "-Djdk.attach.allowAttachSelf=true",
            "-Dio.netty.tryReflectionSetAccessible=true"]  # fmt: skip
    args += java_module_options()
    if jamm_agent is not None:
        args.append(f"-javaagent:{jamm_agent}")
    args += [
        f"-Dcassandra.config=file://{s.yaml_path}",
        f"-Dlogback.configurationFile=file://{s.conf_dir / 'logback.xml'}",
        f"-Dcassandra.logdir={s.log_dir}",
        f"-Dcassandra.storagedir={s.data_dir}",
        f"-Dcassandra.jmx.local.port={s.jmx_port}",
        "-Dcassandra-foreground=yes",
        # A fast start (a single node has no gossip to settle; a local ring's nodes are all on one machine).
        "-Dcassandra.skip_wait_for_gossip_to_settle=0",
        "-Dcassandra.superuser_setup_delay_ms=0",
    ]
    if s.fast:  # throw-away test servers only: cheap logins, no fsync of system tables
        args += ["-Dcassandra.auth_bcrypt_gensalt_log2_rounds=4", "-Dcassandra.unsafesystem=true"]
    return args


def write_configuration(s: ServerSettings) -> None:
    for directory in (s.conf_dir, s.data_dir, s.log_dir):
        directory.mkdir(parents=True, exist_ok=True)
    s.yaml_path.write_text(cassandra_yaml(s))
    (s.conf_dir / "logback.xml").write_text(_LOGBACK.format(log=s.system_log))
