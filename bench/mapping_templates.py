"""Mapping template rendering time per call (issue 22): airspeed with API Gateway's
variables, on the templates a route renders per request.

    .venv/bin/python bench/mapping_templates.py [--calls 2000]

For each template: the parse (once per route: ``MappingTemplate``), a rendering with the
template parsed beforehand (``render_compiled``, what a route pays per request) and a
rendering that parses too (``render``). Prints the median and p95 per call, in
microseconds, as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

from wslocal.apigateway.mapping import MappingInput, MappingTemplate, render, render_compiled

SEED = '{"connectionId": "$context.connectionId", "message": $input.json(\'$.message\')}'
PARAMS = """#set($allParams = $input.params())
{
  "params" : {
    #foreach($type in $allParams.keySet())
    #set($params = $allParams.get($type))
    "$type" : {
      #foreach($paramName in $params.keySet())
      "$paramName" : "$util.escapeJavaScript($params.get($paramName))"
      #if($foreach.hasNext),#end
      #end
    }
    #if($foreach.hasNext),#end
    #end
  },
  "body" : $input.json('$'),
  "stage" : "$context.stage", "requestId" : "$context.requestId"
}"""
FOREACH = """[
#foreach($item in $input.path('$.items'))
  {"id": "$item.id", "name": "$util.escapeJavaScript($item.name)"}#if($foreach.hasNext),#end
#end
]"""

TEMPLATES = {
    "the seed's WebSocket template (connectionId + $input.json)": (
        SEED,
        MappingInput(
            body='{"action": "sendMessage", "message": "hello, room"}',
            params={},
            context={"connectionId": "L0SM9cOFvHcCIhw=", "routeKey": "sendMessage"},
        ),
    ),
    "AWS's all-parameters example + body (REST)": (
        PARAMS,
        MappingInput(
            body='{"name": "Rex", "type": "dog"}',
            params={
                "path": {"id": "7"},
                "querystring": {"q": "x", "page": "2"},
                "header": {"Accept": "*/*", "Host": "localhost", "User-Agent": "curl/8"},
            },
            context={"stage": "dev", "requestId": "r-1"},
        ),
    ),
    "#foreach over 100 items of $input.path": (
        FOREACH,
        MappingInput(
            body=json.dumps({"items": [{"id": i, "name": f"item '{i}'"} for i in range(100)]}),
            params={},
            context={},
        ),
    ),
}


def per_call_us(run: Callable[[], object], calls: int) -> tuple[float, float]:
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    calls = parser.parse_args().calls
    print("| template | parse (once per route) | render, parsed beforehand | render with parse |")
    print("| --- | --- | --- | --- |")
    for name, (text, given) in TEMPLATES.items():
        compiled = MappingTemplate(text)
        parse = per_call_us(lambda text=text: MappingTemplate(text), calls)
        cached = per_call_us(lambda c=compiled, g=given: render_compiled(c, g), calls)
        whole = per_call_us(lambda t=text, g=given: render(t, g), calls)
        cells = [f"{median:.0f} / {p95:.0f} us" for median, p95 in (parse, cached, whole)]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\nmedian / p95 of {calls} calls each")


if __name__ == "__main__":
    main()
