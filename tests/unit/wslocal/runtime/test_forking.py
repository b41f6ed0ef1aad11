"""What a fork server may import ahead: the libraries, never the code the user edits."""

from pathlib import Path

from wslocal.runtime.forking import preloadable

CODE = Path("/app/functions/connect")
LAYER = Path("/app/layers/chatroom")


def test_libraries_are_preloaded_in_import_order():
    modules = [
        ("json", "/usr/lib/python3.13/json/__init__.py"),
        ("boto3", "/cache/runtime/boto3/__init__.py"),
        ("boto3.session", "/cache/runtime/boto3/session.py"),
    ]
    assert preloadable(modules, [CODE, LAYER]) == ["json", "boto3", "boto3.session"]


def test_the_functions_code_and_its_layers_are_never_preloaded():
    modules = [
        ("app", "/app/functions/connect/app.py"),
        ("chatroom", "/app/layers/chatroom/chatroom/__init__.py"),
        ("chatroom.service", "/app/layers/chatroom/chatroom/service.py"),
        ("boto3", "/cache/runtime/boto3/__init__.py"),
    ]
    assert preloadable(modules, [CODE, LAYER]) == ["boto3"]


def test_a_folder_that_only_starts_like_the_code_folder_is_a_library():
    modules = [("connect_extras", "/app/functions/connect_extras/__init__.py")]
    assert preloadable(modules, [CODE]) == ["connect_extras"]


def test_wslocals_own_modules_are_left_to_the_bootstrap():
    modules = [("wslocal.runtime.bootstrap", "/cache/runtime/wslocal/runtime/bootstrap.py")]
    assert preloadable(modules, [CODE]) == []


def test_code_reached_through_a_symlink_is_still_code(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("")
    link = tmp_path / "linked"
    link.symlink_to(code / "app.py")
    assert preloadable([("app", str(link))], [code]) == []
