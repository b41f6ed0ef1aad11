"""Point the chat page at a deployed stack: writes frontend/config.js with the stack's
WebSocketURL output, and the page's Content-Security-Policy ``<meta>`` (S3 and CloudFront
send no CSP header) so that it admits connections to that API's host and no other.

    .venv/bin/python scripts/page_config.py --stack serverless-chat [--region eu-west-1]
    .venv/bin/python scripts/page_config.py --url wss://abc.execute-api.eu-west-1.amazonaws.com/dev
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from wslocal.server.static import content_security_policy

CONFIG = Path(__file__).resolve().parents[1] / "frontend" / "config.js"
PAGE = CONFIG.with_name("index.html")
_META = re.compile(r'<meta http-equiv="Content-Security-Policy" content="[^"]*">')


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


def meta_policy(url: str | None) -> str:
    origin = None if url is None else "/".join(url.split("/", 3)[:3])
    policy = content_security_policy(origin, for_meta=True)
    return f'<meta http-equiv="Content-Security-Policy" content="{policy}">'


def with_policy(page: str, url: str | None) -> str:
    """The page with its policy's meta tag for ``url`` (replaced, or added after charset)."""
    if _META.search(page):
        return _META.sub(meta_policy(url), page, count=1)
    return page.replace(
        '<meta charset="utf-8">', f'<meta charset="utf-8">\n  {meta_policy(url)}', 1
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
    PAGE.write_text(with_policy(PAGE.read_text(encoding="utf-8"), url), encoding="utf-8")
    print(f"{CONFIG}: websocketUrl = {url}; {PAGE.name}'s policy admits it alone")


if __name__ == "__main__":
    main()
