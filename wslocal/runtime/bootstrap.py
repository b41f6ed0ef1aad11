"""The Lambda runtime of one worker process: ``python -m wslocal.runtime.bootstrap FD``.

It does what Lambda's bootstrap does for a Python function: puts the code and the layers
on sys.path, imports the handler once (the init duration), then serves invocations read
as frames from the socket FD, printing START / END / REPORT lines as Lambda logs them.
It also points boto3 clients of the Management API that were built for the deployed
endpoint (``https://{domainName}/{stage}`` or ``https://{apiId}.execute-api...``) at
the local stage, so code written for AWS runs unchanged, and lets every Management API
client that talks to the stage skip SigV4 signing: the stage checks no signature, and
signing is a fifth of botocore's cost per post on the fan-out path.
"""

from __future__ import annotations

import importlib
import inspect
import os
import resource
import socket
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from wslocal import lifeline
from wslocal.runtime.framing import HEADER, decode_payload, encode_frame, frame_length
from wslocal.runtime.lambda_logging import install_from_environment

REDIRECT_HOSTS = "WSLOCAL_REDIRECT_HOSTS"
REDIRECT_TO = "WSLOCAL_REDIRECT_TO"
LAYER_PATHS = "WSLOCAL_LAYER_PATHS"
LOG_PREFIX = "WSLOCAL_LOG_PREFIX"
DEBUG_LISTEN = "WSLOCAL_DEBUG_LISTEN"
"""``127.0.0.1:PORT``: listen there with debugpy before the handler is imported."""
DEBUG_WAIT = "WSLOCAL_DEBUG_WAIT"
"""Non-empty: the first call waits for a debugger to attach."""


class LambdaContext:
    """The context object a Python handler receives."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        region = os.environ["AWS_REGION"]
        self.function_name = name
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = (
            f"arn:aws:lambda:{region}:{os.environ.get('WSLOCAL_ACCOUNT_ID', '123456789012')}"
            f":function:{name}"
        )
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", f"/aws/lambda/{name}")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def redirect_endpoint(endpoint: str | None, hosts: set[str], target: str) -> str | None:
    """Rewrite a deployed Management API endpoint to the local stage, keeping the path."""
    if not endpoint:
        return endpoint
    parts = urlsplit(endpoint)
    if parts.netloc not in hosts:
        return endpoint
    local = urlsplit(target)
    return urlunsplit((local.scheme, local.netloc, parts.path, parts.query, parts.fragment))


def install_endpoint_redirect() -> None:
    hosts = {host for host in os.environ.get(REDIRECT_HOSTS, "").split(",") if host}
    target = os.environ.get(REDIRECT_TO)
    if not hosts or not target:
        return
    try:
        import botocore.session
        from botocore import UNSIGNED
        from botocore.config import Config
    except ImportError:
        return
    original = botocore.session.Session.create_client
    signature = inspect.signature(original)
    local = urlsplit(target).netloc
    variable = os.environ.get("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI", "")

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        if bound.arguments.get("service_name") == "apigatewaymanagementapi":
            endpoint = redirect_endpoint(bound.arguments.get("endpoint_url"), hosts, target)
            bound.arguments["endpoint_url"] = endpoint
            if urlsplit(endpoint or variable).netloc == local:
                unsigned = Config(signature_version=UNSIGNED)
                config = bound.arguments.get("config")
                bound.arguments["config"] = config.merge(unsigned) if config else unsigned
        return original(*bound.args, **bound.kwargs)

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]


def _read_exactly(stream: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = stream.recv(size - len(chunks))
        if not chunk:
            raise EOFError
        chunks.extend(chunk)
    return bytes(chunks)


def _error_document(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc),
    }


def _load_handler(handler: str) -> Callable[[Any, Any], Any]:
    module_name, attribute = handler.rsplit(".", 1)
    module = importlib.import_module(module_name.replace("/", "."))
    return getattr(module, attribute)  # type: ignore[no-any-return]


def _log(*lines: str, prefix: str | None = None) -> None:
    """Write the runtime's own lines with the stage's prefix for the function (read from the
    environment unless given), in one write: a worker's stdout is a pipe it shares with the
    stage and the other workers, so lines written at once stay together, and each write
    wakes the reader (about 10 µs of this worker's CPU)."""
    lead = os.environ.get(LOG_PREFIX, "") if prefix is None else prefix
    sys.stderr.flush()  # text the handler left there without a newline is its call's
    sys.stdout.write("".join([f"{lead}{line}\n" for line in lines]))
    sys.stdout.flush()


def library_path() -> list[str]:
    """sys.path without the function's code: the layers, then the interpreter's own
    (the script's folder and the stage's own folder off it). A fork server's path."""
    layers = [path for path in os.environ.get(LAYER_PATHS, "").split(os.pathsep) if path]
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    rest = [path for path in sys.path[1:] if os.path.abspath(path or ".") != here]
    return [*layers, *rest]


def prepare_process() -> None:
    """What Lambda's runtime sets up before init: the code, then the layers, on sys.path
    (the stage's own folder off it), the code folder as working directory, and the
    Management API redirect. A fork server does the same for its forks: the path and
    the redirect once, the code and the folder in each fork."""
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    sys.path[:] = [task_root, *library_path()]
    os.chdir(task_root)
    install_endpoint_redirect()


def imported_modules() -> list[list[str]]:
    """Every imported module with a file, in import order, as [name, file]: the stage
    learns from them what a fork server may import ahead (the libraries, not the code)."""
    found = []
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and name != "__main__":
            found.append([name, file])
    return found


def listen_for_debugger() -> bool:
    """Under ``wslocal start --debug``: listen with debugpy where the stage says, before
    the handler is imported (so a breakpoint at its module level holds too), the
    adapter in this process (nothing else to end with the worker). Return whether the
    first call must wait for a client. The variables are the stage's, not the handler's:
    they leave the environment."""
    address = os.environ.pop(DEBUG_LISTEN, "")
    wait = bool(os.environ.pop(DEBUG_WAIT, ""))
    if not address:
        return False
    host, _, port = address.rpartition(":")
    try:
        _check_free(host, int(port))  # debugpy's in-process listen would wait forever
        import debugpy  # the stage puts it on this worker's path only while debugging

        try:
            debugpy.listen((host, int(port)), in_process_debug_adapter=True)
        except TypeError:  # a debugpy older than 1.8.1, on an older Python: its own adapter
            debugpy.listen((host, int(port)))
    except (ImportError, OSError, RuntimeError) as exc:
        _log(f"no debugger: debugpy cannot listen on {address}: {exc}")
        return False
    _log(f"debugpy listens on {address}" + ("; the first call waits for a client" if wait else ""))
    return wait


def _check_free(host: str, port: int) -> None:
    """Raise OSError when something listens on ``host:port`` already."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def _wait_for_debugger() -> None:
    import debugpy

    _log("waiting for a debugger to attach")
    debugpy.wait_for_client()


def write_whole_lines(*streams: Any) -> None:
    """Each line in one write: a worker's stdout and stderr are a pipe it shares with the
    stage and the other workers, and under ``PYTHONUNBUFFERED`` ``print`` writes its text
    and its newline apart, so another process's line could land between them (an EMF
    document of Powertools' followed by another worker's END line, seen in the fan-out
    bench). Text without a newline waits for the next newline or flush; the runtime's END
    line flushes it with itself at the end of each invocation."""
    for stream in streams:
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True, write_through=False)


def serve(
    channel: socket.socket,
    report_modules: bool = True,
    wait_for_debugger: bool = False,
    after_init: Callable[[], None] | None = None,
) -> None:
    """Init (import the handler), run ``after_init``, say ready (with the modules
    imported, when the stage still has to learn them), then run invocations until the
    channel closes; with ``wait_for_debugger``, the first one once a debugger has
    attached."""
    write_whole_lines(sys.stdout, sys.stderr)
    request_ids = install_from_environment(sys.stdout, LOG_PREFIX)
    started = time.perf_counter()
    handler: Callable[[Any, Any], Any] | None = None
    init_error: dict[str, Any] | None = None
    try:
        handler = _load_handler(os.environ["_HANDLER"])
    except BaseException as exc:
        init_error = _error_document(exc)
        init_error["errorType"] = "Runtime.ImportModuleError"
        traceback.print_exc()
    init_ms: float | None = (time.perf_counter() - started) * 1000
    if after_init is not None:
        after_init()
    channel.sendall(
        encode_frame(
            {
                "type": "ready",
                "initMs": init_ms,
                "error": init_error,
                "modules": imported_modules() if report_modules else [],
            }
        )
    )
    memory = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
    prefix = os.environ.get(LOG_PREFIX, "")

    while True:
        try:
            request = decode_payload(
                _read_exactly(channel, frame_length(_read_exactly(channel, HEADER.size)))
            )
        except EOFError:
            return
        if wait_for_debugger:
            _wait_for_debugger()
            wait_for_debugger = False
        request_id = request["requestId"]
        start = f"START RequestId: {request_id} Version: $LATEST {request.get('label', '')}"
        _log(start.rstrip(), prefix=prefix)
        began = time.perf_counter()
        request_ids.request_id = request_id
        if handler is None:
            reply: dict[str, Any] = {"type": "result", "ok": False, "error": init_error}
        else:
            try:
                result = handler(request["event"], LambdaContext(request_id, request["deadlineMs"]))
                reply = {"type": "result", "ok": True, "result": result}
                frame = encode_frame(reply)
            except BaseException as exc:
                traceback.print_exc()
                reply = {"type": "result", "ok": False, "error": _error_document(exc)}
        request_ids.request_id = ""
        duration = (time.perf_counter() - began) * 1000
        max_memory = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        init = f"\tInit Duration: {init_ms:.2f} ms" if init_ms is not None else ""
        init_ms = None
        _log(
            f"END RequestId: {request_id}",
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
            f"Billed Duration: {int(duration) + 1} ms\tMemory Size: {memory} MB\t"
            f"Max Memory Used: {max_memory} MB{init}",
            prefix=prefix,
        )
        channel.sendall(frame if reply["ok"] else encode_frame(reply))


def main(fd: int) -> None:
    lifeline.watch()  # a worker ends when the stage does, however the stage ends
    prepare_process()
    wait = listen_for_debugger()
    serve(socket.socket(fileno=fd), wait_for_debugger=wait)


if __name__ == "__main__":
    main(int(sys.argv[1]))
