from wslocal.server.static import (
    configured_api_origin,
    content_security_policy,
    content_type,
    resolve_static,
    security_headers,
)


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
    assert "script-src 'self'" in content_security_policy()
    assert "unsafe-inline" not in content_security_policy()


def test_the_policy_connects_to_the_pages_host_and_the_configured_api_only(tmp_path):
    url = "wss://abc.execute-api.eu-west-1.amazonaws.com/dev"
    (tmp_path / "config.js").write_text(f'window.CHAT_CONFIG = {{ websocketUrl: "{url}" }};')
    assert configured_api_origin(tmp_path) == "wss://abc.execute-api.eu-west-1.amazonaws.com"
    policy = security_headers(tmp_path)["Content-Security-Policy"]
    assert "connect-src 'self' wss://abc.execute-api.eu-west-1.amazonaws.com;" in policy


def test_a_page_without_a_configured_api_connects_to_its_own_host_only(tmp_path):
    (tmp_path / "config.js").write_text("window.CHAT_CONFIG = { websocketUrl: null };")
    assert "connect-src 'self';" in security_headers(tmp_path)["Content-Security-Policy"]


def test_a_meta_policy_leaves_out_what_a_meta_tag_ignores():
    assert "frame-ancestors" not in content_security_policy(for_meta=True)
    assert "frame-ancestors 'none'" in content_security_policy()
