"""Point the chat page at a deployed stack: writes frontend/config.js with the stack's
WebSocketURL output.

    .venv/bin/python scripts/page_config.py --stack serverless-chat [--region eu-west-1]
    .venv/bin/python scripts/page_config.py --url wss://abc.execute-api.eu-west-1.amazonaws.com/dev
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[1] / "frontend" / "config.js"


def stack_websocket_url(stack: str, region: str | None) -> str:
    import boto3

    outputs = (
        boto3.client("cloudformation", region_name=region)
        .describe_stacks(StackName=stack)["Stacks"][0]
        .get("Outputs", [])
    )
    for output in outputs:
        if output["OutputKey"] == "WebSocketURL":
            return str(output["OutputValue"])
    raise SystemExit(f"stack {stack} has no WebSocketURL output")


def config_script(url: str | None) -> str:
    return (
        "// Where the page connects. null: the host that served the page (the local stage).\n"
        "// Written by scripts/page_config.py; `?ws=wss://...` in the page's URL overrides it.\n"
        f"window.CHAT_CONFIG = {{ websocketUrl: {json.dumps(url)} }};\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--stack", help="CloudFormation stack name (reads its WebSocketURL output)")
    source.add_argument("--url", help="the wss:// URL to use")
    source.add_argument("--local", action="store_true", help="back to the serving host")
    parser.add_argument("--region")
    args = parser.parse_args()
    url = None if args.local else args.url or stack_websocket_url(args.stack, args.region)
    if url is not None and not url.startswith(("ws://", "wss://")):
        raise SystemExit(f"{url!r} is not a ws:// or wss:// URL")
    CONFIG.write_text(config_script(url), encoding="utf-8")
    print(f"{CONFIG}: websocketUrl = {url}")


if __name__ == "__main__":
    main()
