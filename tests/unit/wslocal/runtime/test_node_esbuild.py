"""SAM's esbuild BuildProperties as esbuild's options."""

from pathlib import Path

import pytest

from wslocal.exceptions import TemplateError
from wslocal.runtime.node.esbuild import esbuild_arguments

OUT = Path("/cache/out")


def test_sams_defaults_bundle_minified_commonjs_for_es2020():
    assert esbuild_arguments({"EntryPoints": ["app.ts"]}, OUT) == [
        "app.ts", "--bundle", "--platform=node", "--outdir=/cache/out",
        "--minify", "--target=es2020", "--format=cjs",
    ]  # fmt: skip


def test_every_property_maps_to_its_option():
    arguments = esbuild_arguments(
        {
            "EntryPoints": ["src/a.ts", "src/b.ts"],
            "Minify": False,
            "Sourcemap": True,
            "Target": "node20",
            "Format": "esm",
            "External": ["@aws-sdk/*", "pg-native"],
            "Loader": [".png=file"],
            "OutExtension": [".js=.mjs"],
            "Banner": "js=import { createRequire } from 'module';",
            "MainFields": ["module", "main"],
        },
        OUT,
    )
    assert arguments == [
        "src/a.ts", "src/b.ts", "--bundle", "--platform=node", "--outdir=/cache/out",
        "--sourcemap", "--target=node20", "--format=esm",
        "--external:@aws-sdk/*", "--external:pg-native", "--loader:.png=file",
        "--out-extension:.js=.mjs", "--banner:js=import { createRequire } from 'module';",
        "--main-fields=module,main",
    ]  # fmt: skip


def test_flags_written_as_strings_are_read_as_sam_reads_them():
    arguments = esbuild_arguments(
        {"EntryPoints": "app.ts", "Minify": "false", "Sourcemap": "true"}, OUT
    )
    assert "--minify" not in arguments
    assert "--sourcemap" in arguments


def test_no_entry_point_is_a_clear_error():
    with pytest.raises(TemplateError, match="EntryPoints"):
        esbuild_arguments({}, OUT)


def test_a_list_property_of_the_wrong_shape_is_a_clear_error():
    with pytest.raises(TemplateError, match="External must be a list"):
        esbuild_arguments({"EntryPoints": ["a.ts"], "External": {"a": 1}}, OUT)
