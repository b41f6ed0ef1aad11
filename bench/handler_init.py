"""One forked worker's init, in CPU: what a cold start of a chat function costs, and where.

    .venv/bin/python bench/handler_init.py [--forks 10] [--function SendMessageFunction ...]
        [--profile N [--sort tottime]] [--importtime]

As the stage does it (``wslocal.runtime.forkserver``): the function's prepared runtime
and its environment as the stage gives it (the engines' endpoints at a closed port: init
makes no call), the libraries its first worker imported preloaded and boto3's default
session warmed, then ``--forks`` workers forked one after another, each entering the
function and importing its handler (the layer's module-level init: the clients, the
stores, Powertools). Prints each function's CPU per fork (user and system, from the
fork's own clock: a fork starts at zero) and the median. ``--profile N`` prints
cProfile's top N lines (cumulative) of one fork's init (the layer's import, then the
handler's); ``--importtime`` the modules a fork imports (``-X importtime``, the median
over the forks: the code and the layer; the libraries are preloaded).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from wslocal.cache import cache_dir
from wslocal.runtime import builds, forking
from wslocal.runtime.languages.python import PYTHON
from wslocal.runtime.settings import RuntimeSettings
from wslocal.template.reader import build_stage_model, read_template

ROOT = Path(__file__).resolve().parent.parent
ENDPOINTS = {
    "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",
    "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:9",
    "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": "http://127.0.0.1:9/local",
}

LIST_MODULES = """
import json, sys
from wslocal.runtime import bootstrap
bootstrap.prepare_process()
bootstrap._load_handler(bootstrap.os.environ["_HANDLER"])
print(json.dumps(bootstrap.imported_modules()))
"""

FORKS = """
import cProfile, gc, importlib, io, json, os, pstats, resource, sys
from wslocal.runtime import bootstrap, forkserver
request = json.loads(sys.argv[1])
environment = dict(os.environ)
sys.path[:] = bootstrap.library_path()
os.chdir("/")
bootstrap.install_endpoint_redirect()
failed = forkserver.preload(request["modules"])
forkserver.warm_boto3(environment)
gc.collect()
forkserver.trim_heap()
gc.freeze()
print("--- preloaded", file=sys.stderr, flush=True)
for index in range(request["forks"]):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        print(f"--- fork {index}", file=sys.stderr, flush=True)
        forkserver.enter_function(environment, None)
        profiler = cProfile.Profile() if index == 0 and request["profile"] else None
        if profiler:
            profiler.enable()
        entered = resource.getrusage(resource.RUSAGE_SELF)
        for name in request["layer_modules"]:
            importlib.import_module(name)
        layer = resource.getrusage(resource.RUSAGE_SELF)
        bootstrap._load_handler(os.environ["_HANDLER"])
        if profiler:
            profiler.disable()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        text = ""
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(request["sort"]).print_stats(
                request["profile"]
            )
            text = out.getvalue()
        os.write(write, json.dumps(
            {"user": usage.ru_utime, "system": usage.ru_stime,
             "entered": entered.ru_utime + entered.ru_stime,
             "layer": layer.ru_utime + layer.ru_stime, "profile": text}).encode())
        os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 1 << 20):
        data += chunk
    os.close(read)
    os.waitpid(pid, 0)
    print(data.decode(), flush=True)
print(json.dumps({"failed": failed}), flush=True)
"""


def launch(function_id: str) -> tuple[list[str], dict[str, str], list[Path]]:
    """The fork server's interpreter and environment for ``function_id``, and its code
    folders (the function's and its layers')."""
    model = build_stage_model(read_template(ROOT / "template.yaml"), ROOT)
    runtimes = builds.prepare(model, cache_dir())
    settings = RuntimeSettings(
        region=model.region, account_id=model.account_id, endpoints=ENDPOINTS, runtimes=runtimes
    )
    function = model.functions[function_id]
    server = PYTHON.fork_server(function, settings)
    interpreter = server.command[: server.command.index("-m")]
    return interpreter, dict(server.environment), [function.code_dir, *function.layer_dirs]


def measure(function_id: str, forks: int, profile: int, sort: str, importtime: bool) -> None:
    interpreter, environment, code_dirs = launch(function_id)
    listed = subprocess.run(
        [*interpreter, "-c", LIST_MODULES],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    modules = forking.preloadable(json.loads(listed.stdout.splitlines()[-1]), code_dirs)
    flags = ["-X", "importtime"] if importtime else []
    layer_modules = sorted(
        path.stem
        for folder in code_dirs[1:]
        for path in folder.iterdir()
        if (path / "__init__.py").exists() or (path.suffix == ".py" and path.stem != "__init__")
    )
    request = json.dumps(
        {
            "modules": modules,
            "forks": forks,
            "profile": profile,
            "sort": sort,
            "layer_modules": layer_modules,
        }
    )
    run = subprocess.run(
        [*interpreter, *flags, "-c", FORKS, request],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    results = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    failed = results.pop()["failed"]
    cpu_ms = [(each["user"] + each["system"]) * 1000 for each in results]
    user_ms = statistics.median(each["user"] * 1000 for each in results)
    system_ms = statistics.median(each["system"] * 1000 for each in results)
    entered_ms = statistics.median(each["entered"] * 1000 for each in results)
    layer_ms = statistics.median((each["layer"] - each["entered"]) * 1000 for each in results)
    print(
        f"{function_id:<22} {len(modules)} modules preloaded ({len(failed)} failed); "
        f"init of a fork: median {statistics.median(cpu_ms):.1f} ms of CPU "
        f"(user {user_ms:.1f}, system {system_ms:.1f}; the fork entering the function "
        f"{entered_ms:.1f}, importing the layers "
        f"{', '.join(layer_modules)}: {layer_ms:.1f}); "
        f"each: {' '.join(f'{ms:.0f}' for ms in cpu_ms)}",
        flush=True,
    )
    if profile:
        print(results[0]["profile"])
    if importtime:
        print_import_times(run.stderr)


def print_import_times(stderr: str) -> None:
    """Each module a fork imported, its own and cumulative µs (the median over forks),
    in the import order of the last fork."""
    own: dict[str, list[int]] = {}
    cumulative: dict[str, list[int]] = {}
    order: list[str] = []
    for fork in stderr.split("--- fork ")[1:]:
        order = []
        for line in fork.splitlines():
            if not line.startswith("import time:") or "|" not in line:
                continue
            fields = line.removeprefix("import time:").split("|")
            if not fields[0].strip().isdigit():
                continue
            name = fields[2].rstrip()
            own.setdefault(name.strip(), []).append(int(fields[0]))
            cumulative.setdefault(name.strip(), []).append(int(fields[1]))
            order.append(name)
    print("  own µs | cumulative µs | module (median over forks)")
    for name in order:
        key = name.strip()
        print(
            f"{statistics.median(own[key]):8.0f} | {statistics.median(cumulative[key]):13.0f} "
            f"| {name}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument(
        "--function",
        nargs="+",
        default=["ConnectFunction", "SendMessageFunction", "FanOutFunction"],
    )
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument("--sort", default="cumulative", help="cProfile's order")
    parser.add_argument("--importtime", action="store_true")
    args = parser.parse_args()
    for function_id in args.function:
        measure(function_id, args.forks, args.profile, args.sort, args.importtime)


if __name__ == "__main__":
    sys.exit(main())
