"""Print a PATH on which ``sam build`` finds the Python of every runtime the template
declares, found the way the local stage finds them (PATH, pyenv, uv); or say in one line
how to get the one that is missing and exit 1.

    PATH="$(.venv/bin/python scripts/sam_build_path.py template.yaml)" sam build
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from wslocal.runtime.builds import declared_version, find_interpreter
from wslocal.template import build_stage_model, read_template


def build_path(template: Path, path: str) -> str:
    model = build_stage_model(read_template(template), template.parent)
    folders: list[str] = []
    for runtime in sorted({function.runtime for function in model.functions.values()}):
        version = declared_version(runtime)
        found = find_interpreter(version)
        if found is None:
            raise SystemExit(
                f"sam build needs a python{version} for the functions' Runtime: {runtime}; "
                f"`pyenv install {version}` or `uv python install {version}` gives one"
            )
        folder = str(Path(found).parent)
        if folder not in folders:
            folders.append(folder)
    return os.pathsep.join([*folders, path])


if __name__ == "__main__":
    template = Path(sys.argv[1] if len(sys.argv) > 1 else "template.yaml")
    print(build_path(template, os.environ.get("PATH", "")))
