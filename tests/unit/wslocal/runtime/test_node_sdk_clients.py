"""Which ``@aws-sdk/*`` packages a function's code names, whether it would find them
itself, and how the stage installs the ones it would not."""

import json
from pathlib import Path

from wslocal.runtime.node import sdk_clients
from wslocal.runtime.node.runtime import sdk_files
from wslocal.runtime.node.sdk_clients import (
    install_files,
    is_found,
    is_unknown,
    named_packages,
    package_folder,
    release_line,
    runtime_packages,
)


def test_imports_requires_and_dynamic_imports_of_the_sdk_are_its_packages():
    source = """
        import { SFNClient } from "@aws-sdk/client-sfn";
        import '@aws-sdk/client-s3';
        export * from "@aws-sdk/lib-storage";
        const { SNSClient } = require('@aws-sdk/client-sns');
        const later = await import(`@aws-sdk/client-scheduler`);
    """
    assert runtime_packages(source) == {
        "@aws-sdk/client-sfn",
        "@aws-sdk/client-s3",
        "@aws-sdk/lib-storage",
        "@aws-sdk/client-sns",
        "@aws-sdk/client-scheduler",
    }


def test_a_deep_import_names_its_package():
    assert runtime_packages('require("@aws-sdk/client-s3/dist-cjs/index.js")') == {
        "@aws-sdk/client-s3"
    }


def test_other_scopes_and_bare_scope_names_are_not_the_runtimes():
    source = """import x from "@smithy/types"; import y from "aws-sdk";
        const z = require("@aws-sdk/"); const w = "@aws-sdk/Client-Upper";"""
    assert runtime_packages(source) == set()


def test_the_release_line_is_the_shipped_sdks():
    assert release_line(sdk_files()[0]) == ">=3.800.0 <3.807.0"


def test_a_package_is_installed_alone_at_the_release_line():
    files = install_files("@aws-sdk/client-sfn", ">=3.800.0 <3.807.0")
    assert json.loads(files["package.json"])["dependencies"] == {
        "@aws-sdk/client-sfn": ">=3.800.0 <3.807.0"
    }


def test_each_package_and_release_line_has_a_folder_of_its_own(tmp_path):
    sfn = package_folder(tmp_path, "@aws-sdk/client-sfn", ">=3.800.0 <3.807.0")
    assert sfn.parent == tmp_path / "node" / "aws-sdk-clients"
    assert sfn.name.startswith("client-sfn-")
    assert sfn != package_folder(tmp_path, "@aws-sdk/client-sfn", ">=3.900.0 <3.901.0")


def test_npm_not_knowing_a_package_is_told_from_other_failures():
    assert is_unknown("npm failed: 404 Not Found - GET https://registry.npmjs.org/@aws-sdk%2fx")
    assert is_unknown("npm failed: code ETARGET\nNo matching version found for @aws-sdk/x")
    assert not is_unknown("npm failed: request to https://registry.npmjs.org failed, ECONNRESET")


def test_the_functions_sources_are_scanned_but_not_its_node_modules(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.ts").write_text('import { SFN } from "@aws-sdk/client-sfn";\n')
    (tmp_path / "README.md").write_text('"@aws-sdk/client-ec2"')
    vendored = tmp_path / "node_modules" / "lib"
    vendored.mkdir(parents=True)
    (vendored / "index.js").write_text('require("@aws-sdk/client-ec2")')
    assert named_packages(tmp_path) == {"@aws-sdk/client-sfn"}


def test_a_package_in_a_node_modules_above_the_code_or_on_node_path_is_found(tmp_path):
    code = tmp_path / "app" / "src"
    code.mkdir(parents=True)
    own = tmp_path / "app" / "node_modules" / "@aws-sdk" / "client-sfn"
    own.mkdir(parents=True)
    (own / "package.json").write_text("{}")
    layer = tmp_path / "layer"
    (layer / "@aws-sdk" / "client-ec2").mkdir(parents=True)
    (layer / "@aws-sdk" / "client-ec2" / "package.json").write_text("{}")
    assert is_found("@aws-sdk/client-sfn", code, [])
    assert is_found("@aws-sdk/client-ec2", code, [layer])
    assert not is_found("@aws-sdk/client-s3", code, [layer])


def test_a_package_npm_did_not_know_is_not_asked_for_again(tmp_path, monkeypatch):
    asked = []

    def unknown(files, target, label):
        asked.append(target)
        raise sdk_clients.BuildError(f"{label}: npm failed: 404 Not Found")

    monkeypatch.setattr(sdk_clients.npm, "install_once", unknown)
    manifest = sdk_files()[0]
    assert sdk_clients.install("@aws-sdk/client-nope", tmp_path, manifest) is None
    assert sdk_clients.install("@aws-sdk/client-nope", tmp_path, manifest) is None
    assert len(asked) == 1


def test_only_the_named_packages_not_found_are_installed(tmp_path, monkeypatch):
    installed = []

    def install(files, target, label):
        installed.append(json.loads(files["package.json"])["dependencies"])
        return target

    monkeypatch.setattr(sdk_clients.npm, "install_once", install)
    sdk = tmp_path / "sdk"
    (sdk / "@aws-sdk" / "client-s3").mkdir(parents=True)
    (sdk / "@aws-sdk" / "client-s3" / "package.json").write_text("{}")
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.mjs").write_text(
        'import "@aws-sdk/client-s3";\nimport { SFNClient } from "@aws-sdk/client-sfn";\n'
    )
    folders = sdk_clients.missing_packages(code, [sdk], tmp_path, sdk_files()[0])
    assert installed == [{"@aws-sdk/client-sfn": ">=3.800.0 <3.807.0"}]
    assert folders == [
        package_folder(tmp_path, "@aws-sdk/client-sfn", ">=3.800.0 <3.807.0") / "node_modules"
    ]


def test_the_installer_a_worker_runs_carries_only_what_npm_needs_of_the_stages_variables():
    environ = {"HOME": "/home/ann", "npm_config_registry": "http://r", "SECRET": "x", "PATH": "/b"}
    installer = json.loads(sdk_clients.installer_command(Path("/cache"), environ))
    assert installer["command"][1:] == ["-m", "wslocal.runtime.node.sdk_clients", "/cache"]
    assert installer["environment"] == {
        "HOME": "/home/ann",
        "npm_config_registry": "http://r",
        "PATH": "/b",
    }


def test_the_installer_refuses_a_name_outside_the_sdks_scope(tmp_path, capsys):
    assert sdk_clients.main([str(tmp_path), "left-pad"]) == 2
    assert "not a package of the @aws-sdk scope" in capsys.readouterr().err
