"""Running the page's own modules in Node, as the browser runs them."""

import json
import shutil
import subprocess


def run_node(script: str) -> object:
    """Run an ES module ``script``; what it prints as JSON."""
    node = shutil.which("node")
    assert node, "these tests need Node (make test's setup installs it)"
    result = subprocess.run(
        [node, "--no-warnings", "--input-type=module", "-e", script],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return json.loads(result.stdout)
