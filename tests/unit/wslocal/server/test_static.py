from wslocal.server.static import CONTENT_SECURITY_POLICY, content_type, resolve_static


def test_root_serves_index_html(tmp_path):
    (tmp_path / "index.html").write_text("x")
    assert resolve_static(tmp_path, "/") == (tmp_path / "index.html").resolve()


def test_paths_cannot_escape_the_root(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "secret.txt").write_text("s")
    assert resolve_static(tmp_path / "site", "/../secret.txt") is None


def test_missing_files_are_none(tmp_path):
    assert resolve_static(tmp_path, "/nope.js") is None


def test_text_types_carry_a_charset(tmp_path):
    assert content_type(tmp_path / "a.js").endswith("charset=utf-8")
    assert content_type(tmp_path / "a.png") == "image/png"


def test_the_policy_allows_no_inline_script():
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
