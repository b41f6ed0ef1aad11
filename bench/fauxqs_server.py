"""fauxqs (npm, a Node SQS emulator) served on 127.0.0.1 for the benches that compare it with
moto (issue 24): ``bench/sqs_engine.py --fauxqs DIR``, ``bench/fanout.py --fauxqs DIR``.

Installed by hand, outside the project, for the comparison only (``npm install --prefix /tmp/x
fauxqs@1.9.2``: its 2.x needs Node 22.5); ``DIR`` is the package folder
(``/tmp/x/node_modules/fauxqs``). Its ``buildApp`` is served without a request log, and
taught to find a queue by its name as SQS and moto do: fauxqs finds one only by the exact
URL it made (``http://sqs.REGION.localhost:PORT/000000000000/NAME``) or ARN (account
000000000000), where the stage's handlers use the URL and ARN the template's ``!Ref`` and
``!GetAtt`` give (``https://sqs.REGION.amazonaws.com/123456789012/NAME``); without it every
SendMessageBatch of theirs fails (queue does not exist) and no dead-letter queue is found.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from wslocal.engines.moto_server import free_port

FAUXQS_SERVER = """
const [, app, port] = process.argv;
const { buildApp } = await import(app);
const { SqsStore } = await import(new URL("sqs/sqsStore.js", new URL(app, "file://")).href);
const byUrl = SqsStore.prototype.getQueue;
SqsStore.prototype.getQueue = function (url) {
  return byUrl.call(this, url) ?? this.getQueueByName(String(url).split("/").pop());
};
const byArn = SqsStore.prototype.getQueueByArn;
SqsStore.prototype.getQueueByArn = function (arn) {
  return byArn.call(this, arn) ?? this.getQueueByName(String(arn).split(":").pop());
};
const server = buildApp({ logger: false });
await server.listen({ port: Number(port), host: "127.0.0.1" });
console.log("ready");
"""


@contextlib.contextmanager
def serve_fauxqs(package: Path) -> Iterator[tuple[int, str]]:
    """fauxqs's process id and endpoint, once it listens; stopped on leaving."""
    port = free_port()
    process = subprocess.Popen(
        ["node", "--input-type=module", "-e", FAUXQS_SERVER,
         str(package.resolve() / "dist" / "app.js"), str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise SystemExit("fauxqs did not start")
        yield process.pid, f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
