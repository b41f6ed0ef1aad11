"""Where a profile's samples are counted (issue 24): the process groups of the fan-out bench,
and for each the places its stacks are shared among (``PLACES``), with the names of the JVM's
libraries and DynamoDB Local's operations. Kept apart from ``fanout_profile`` (which runs the
samplers and prints the tables) because this is what a reader edits to split a group finer.
"""

from __future__ import annotations

from collections.abc import Sequence

from profiles import NO_PYTHON_FRAME, Place

STAGE = "stage (wslocal start)"
JVM = "DynamoDB Local (JVM)"
MOTO = "moto's server (SQS)"
MOTO_DYNAMODB = "moto's server (DynamoDB, --dynamodb moto)"
FAUXQS = "fauxqs (SQS, Node)"
FORK_SERVERS = "fork servers"
LIFELINES = "lifeline watchers"
WORKER = "worker: "
KERNEL = "kernel: system calls (sockets, epoll, futexes), /proc's system time"
JAVA_LIBRARIES = {
    "com.fasterxml.jackson": "JSON (Jackson)",
    "software.amazon.awssdk": "AWS SDK model objects",
    "com.almworks.sqlite4java": "SQLite calls (sqlite4java)",
    "com.amazonaws.services.dynamodbv2.local": "DynamoDB Local",
    "software.amazon.dynamodb": "DynamoDB Local",
    "com.amazonaws": "AWS SDK v1",
    "org.eclipse.jetty": "HTTP (Jetty)",
    "org.antlr": "expression parsing (ANTLR)",
    "jdk.jfr": "JFR",
}
JDK_PACKAGES = ("java.", "javax.", "jdk.internal", "sun.", "com.sun.")
DYNAMODB_OPERATION = "software.amazon.dynamodb.services.local.server.LocalDynamoDBRequestHandler."


POST = ("KeepAliveManagementApi.post_to_connection",)
AWS_CALL = ("botocore/client.py",)
PYTHON_COMMON = [
    Place("AWS SDK calls: SigV4 signing", ("botocore/auth.py", "botocore/signers.py"), AWS_CALL),
    Place("AWS SDK calls: response parsing", ("botocore/parsers.py", "boto3/dynamodb/types.py",
          "TypeDeserializer", "json/decoder.py"), AWS_CALL),
    Place("AWS SDK calls: request serialising", ("botocore/serialize.py", "botocore/validate.py",
          "TypeSerializer", "boto3/dynamodb/conditions.py"), AWS_CALL),
    Place("AWS SDK calls: HTTP (urllib3, http.client)", ("urllib3/", "http/client.py",
          "botocore/httpsession.py", "botocore/awsrequest.py"), AWS_CALL),
    Place("AWS SDK calls: hooks, endpoint rules, retries, other", AWS_CALL),
]  # fmt: skip
"""How any process's botocore calls are split (the workers' and the stage's pollers')."""
PLACES: dict[str, list[Place]] = {
    STAGE: [
        Place("WebSocket frame out (session.send, data_frame)",
              ("WebSocketSession.send", "data_frame")),
        Place("@connections: request head parsing", ("parse_plain_head", "parse_request_head",
              "HttpRequest.", "FrontDoor.serves_inline")),
        Place("@connections: rules and answer (id, registry)",
              ("handle_management_request", "FrontDoor.management_answer")),
        Place("@connections: connection (buffers, keep-alive, time limit)", ("HttpConnection.",)),
        Place("SQS event source: pollers (ReceiveMessage, DeleteMessageBatch)",
              ("SqsQueuePoller",)),
        Place("DynamoDB stream event source: pollers (GetRecords)",
              ("DynamoDBStreamPoller",)),
        Place("AWS SDK calls in executor threads (the pollers')", ("botocore/",)),
        Place("invoking workers (events, framing, pools)", ("wslocal/runtime/",)),
        Place("WebSocket frames in, routes", ("WebSocketSession.", "wslocal/server/session",
              "wslocal/apigateway/")),
        Place("event loop (epoll, callbacks, timers)", ("asyncio/", "selectors.py")),
    ],
    WORKER: [
        Place("@connections post: SigV4 signing (botocore SigV4Auth)",
              ("botocore/auth.py", "hmac.py", "hashlib"), POST),
        Place("@connections post: HTTP request and answer (http.client)",
              ("http/client.py", "socket.py", "email/"), POST),
        Place("@connections post: the rest (path, headers)", POST),
        *PYTHON_COMMON,
        Place("a new worker's init: imports, boto3 clients",
              ("<frozen importlib", "botocore/loaders.py")),
        Place("deadline check before each post (get_remaining_time_in_millis)",
              ("LambdaContext.get_remaining_time_in_millis",)),
        Place("broadcast thread pool (futures, threads, locks)",
              leaf=("ThreadPoolExecutor.", "Thread.", "_worker", "_WorkItem.", "Future.",
                    "Condition.", "Executor.", "_result_or_cancel", "Event.", "Semaphore.")),
        Place("broadcast: the rest (Broadcaster, attempts)", ("Broadcaster.",)),
        Place("room members: items to objects (ConnectionStore.members)",
              ("ConnectionStore.members",)),
        Place("shards: bodies and batches (Shard, ShardQueue)", ("Shard.", "ShardQueue.")),
        Place("a shard read from its queue message (shards.parse)",
              ("parse (chatroom/fanout/shards.py",)),
        Place("logs and metrics (Powertools, logging)", ("aws_lambda_powertools/", "logging/"),
              unless_deeper=("chatroom/", "lambda_handler")),
        Place("handler and layer (chatroom), own lines",
              ("chatroom/", "handler", "lambda_handler")),
        Place("Lambda runtime (bootstrap: event in, result out, context)",
              ("wslocal/runtime/",)),
    ],
    FORK_SERVERS: [
        Place("fork server start: imports", ("<frozen importlib", "preload")),
        Place("fork server start: boto3 clients (botocore data)", ("warm_boto3", "botocore/")),
        Place("forking a worker", ("serve (wslocal/runtime/forkserver",)),
    ],
    MOTO: [
        Place("SQS: ReceiveMessage (long polls)",
              ("SQSResponse.receive_message", "SQSBackend.receive_message")),
        Place("SQS: SendMessageBatch, DeleteMessage(Batch)",
              ("SQSResponse.send_message", "SQSResponse.delete_message",
               "SQSBackend.send_message", "SQSBackend.delete_message")),
        Place("moto: request dispatch, response templates", ("moto/core/",)),
        Place("HTTP server (werkzeug, socketserver)", ("werkzeug/", "socketserver.py",
              "http/server.py")),
    ],
}  # fmt: skip
"""Where a sample is counted, per process group (every worker has WORKER's): the first place
that holds its stack."""


def python_other(stack: Sequence[str]) -> str:
    """An unnamed place: the file of the innermost frame."""
    leaf = stack[-1]
    if leaf == NO_PYTHON_FRAME:
        return leaf
    where = leaf[leaf.rfind("(") + 1 :].split(":", 1)[0]
    return f"other: {where.rsplit('site-packages/', 1)[-1]}"


def java_place(stack: Sequence[str]) -> str:
    """The DynamoDB operation a sample serves (the request handler's method in its stack),
    and the library of its innermost frame that is not the JDK's (a HashMap's work is its
    caller's): "query: JSON (Jackson)"."""
    handler = [f for f in stack if f.startswith(DYNAMODB_OPERATION)]
    operation = handler[-1][len(DYNAMODB_OPERATION) :] if handler else "outside an operation"
    frame = next((f for f in reversed(stack) if not f.startswith(JDK_PACKAGES)), stack[-1])
    library = next((name for prefix, name in JAVA_LIBRARIES.items() if frame.startswith(prefix)),
                   ".".join(frame.split(".")[:3]))  # fmt: skip
    return f"{operation}: {library}"


def java_method(stack: Sequence[str]) -> str:
    """The innermost method of a sample that is not the JDK's, less its package."""
    frame = next((f for f in reversed(stack) if not f.startswith(JDK_PACKAGES)), stack[-1])
    return ".".join(frame.split(".")[-2:])
