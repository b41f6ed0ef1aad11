"""A Node function's build inputs: what npm installs, cache keys, what a bundle is keyed
by, NODE_PATH in Lambda's order."""

import json
import os
import threading

import pytest

from wslocal.exceptions import FunctionBuildError
from wslocal.runtime.node import npm
from wslocal.runtime.node.builds import (
    build_key,
    function_code,
    manifest_files,
    source_fingerprint,
)
from wslocal.runtime.node.npm import install_command, install_lock, install_once, npm_error
from wslocal.template import FunctionModel


def node_function(code, layers=(), **changes):
    values = dict(logical_id="Fn", function_name="fn", code_dir=code, handler="app.handler",
                  runtime="nodejs20.x", timeout=3.0, memory_size=128, environment={},
                  layer_dirs=tuple(layers))  # fmt: skip
    values.update(changes)
    return FunctionModel(**values)


def test_npm_ci_with_a_lockfile_else_npm_install_and_never_dev_dependencies():
    assert install_command("npm", locked=True)[:3] == ["npm", "ci", "--omit=dev"]
    assert install_command("npm", locked=False)[:3] == ["npm", "install", "--omit=dev"]


def test_npms_error_lines_are_kept():
    stderr = (
        "npm warn deprecated x\nnpm error code ETARGET\n"
        "npm error notarget No matching version found for nope@9.\n"
        "npm error A complete log of this run can be found in: /tmp/x.log\n"
    )
    assert npm_error(stderr) == "code ETARGET\nnotarget No matching version found for nope@9."


def test_a_package_json_without_dependencies_installs_nothing(tmp_path):
    (tmp_path / "package.json").write_text(json.dumps({"type": "module"}))
    assert manifest_files(tmp_path) is None


def test_the_manifest_and_its_lockfile_are_what_npm_gets(tmp_path):
    (tmp_path / "package.json").write_text(json.dumps({"dependencies": {"ms": "2.1.3"}}))
    (tmp_path / "package-lock.json").write_text("{}")
    assert set(manifest_files(tmp_path) or {}) == {"package.json", "package-lock.json"}


def test_a_package_json_that_is_not_json_is_a_build_error(tmp_path):
    (tmp_path / "package.json").write_text("{nope")
    with pytest.raises(FunctionBuildError, match=r"package\.json"):
        manifest_files(tmp_path)


def test_the_key_changes_with_the_lockfile_and_nodes_major_only():
    assert build_key([b"lock"], "20.1.0") == build_key([b"lock"], "20.9.9")
    assert build_key([b"lock"], "20.1.0") != build_key([b"lock"], "22.1.0")
    assert build_key([b"lock"], "20.1.0") != build_key([b"other"], "20.1.0")


def test_an_edit_changes_the_source_fingerprint_but_node_modules_do_not(tmp_path):
    (tmp_path / "app.ts").write_text("export const a = 1;")
    before = source_fingerprint(tmp_path)
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    (tmp_path / "node_modules" / "x" / "index.js").write_text("")
    assert source_fingerprint(tmp_path) == before
    (tmp_path / "app.ts").write_text("export const a = 22;")
    os.utime(tmp_path / "app.ts", ns=(1, 1))
    assert source_fingerprint(tmp_path) != before


def test_a_layers_folder_for_the_declared_node_version_comes_before_its_common_one(tmp_path):
    """Lambda's NODE_PATH: /opt/nodejs/node20/node_modules, then /opt/nodejs/node_modules;
    the folder of another version is not searched."""
    code, layer, sdk = tmp_path / "code", tmp_path / "layer", tmp_path / "sdk"
    for folder in ("node20", "node22"):
        (layer / "nodejs" / folder / "node_modules").mkdir(parents=True)
    (layer / "nodejs" / "node_modules").mkdir()
    code.mkdir()
    built = function_code(node_function(code, [layer]), sdk, tmp_path / "cache", "22.1.0")
    assert built.node_path == (
        layer / "nodejs" / "node20" / "node_modules",
        layer / "nodejs" / "node_modules",
        sdk,
        code,
    )


def test_node_path_is_the_layers_modules_then_the_sdk_then_the_task_root(tmp_path):
    code, layer, sdk = tmp_path / "code", tmp_path / "layer", tmp_path / "sdk"
    (layer / "nodejs" / "node_modules").mkdir(parents=True)
    code.mkdir()
    built = function_code(node_function(code, [layer]), sdk, tmp_path / "cache", "20.0.0")
    assert built.task_root == code
    assert built.node_path == (layer / "nodejs" / "node_modules", sdk, code)


def test_an_install_waits_for_one_under_way_and_reuses_what_it_built(tmp_path, monkeypatch):
    monkeypatch.setattr(npm.shutil, "which", lambda name: None)  # running npm would fail
    target = tmp_path / "node" / "package"
    results = []
    waiting = threading.Thread(
        target=lambda: results.append(install_once({}, target, "package")), daemon=True
    )
    with install_lock(target):  # another worker installing it
        waiting.start()
        waiting.join(timeout=0.3)
        assert waiting.is_alive()
        target.mkdir()
        (target / ".complete").write_text("")
    waiting.join(timeout=10)
    assert results == [target]
