"""scripts/page_config.py: pointing the page at a deployed stack."""

import sys

import pytest

from scripts import page_config
from tests.support.paths import ROOT


def test_the_config_names_the_url_or_null_for_the_serving_host():
    assert "websocketUrl: null" in page_config.config_script(None)
    assert 'websocketUrl: "wss://a.example/dev"' in page_config.config_script("wss://a.example/dev")


@pytest.fixture(autouse=True)
def page_copy(tmp_path, monkeypatch):
    """Every test writes a copy of the page, never the project's own."""
    page = tmp_path / "index.html"
    page.write_text((ROOT / "frontend" / "index.html").read_text())
    monkeypatch.setattr(page_config, "PAGE", page)
    return page


def test_url_is_written_into_the_pages_config(tmp_path, monkeypatch):
    config = tmp_path / "config.js"
    monkeypatch.setattr(page_config, "CONFIG", config)
    monkeypatch.setattr(
        sys, "argv", ["page_config", "--url", "wss://abc.execute-api.eu-west-1.amazonaws.com/dev"]
    )
    page_config.main()
    assert '"wss://abc.execute-api.eu-west-1.amazonaws.com/dev"' in config.read_text()


def test_a_url_that_is_not_a_websocket_url_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(page_config, "CONFIG", tmp_path / "config.js")
    monkeypatch.setattr(sys, "argv", ["page_config", "--url", "https://example.com"])
    with pytest.raises(SystemExit, match="not a ws"):
        page_config.main()
    assert not (tmp_path / "config.js").exists()


def test_the_stacks_output_is_read_from_cloudformation(tmp_path, monkeypatch, aws_region):
    import boto3
    from moto import mock_aws

    template = (
        '{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}, '
        '"Outputs": {"WebSocketURL": {"Value": "wss://x.execute-api.us-east-1.amazonaws.com/dev"}}}'
    )
    with mock_aws():
        boto3.client("cloudformation", region_name=aws_region).create_stack(
            StackName="serverless-chat", TemplateBody=template
        )
        url = page_config.stack_websocket_url("serverless-chat", aws_region)
    assert url == "wss://x.execute-api.us-east-1.amazonaws.com/dev"


def test_the_pages_policy_admits_the_configured_api_and_no_other(tmp_path, monkeypatch, page_copy):
    page = page_copy
    monkeypatch.setattr(page_config, "CONFIG", tmp_path / "config.js")
    url = "wss://abc.execute-api.eu-west-1.amazonaws.com/dev"
    monkeypatch.setattr(sys, "argv", ["page_config", "--url", url])
    page_config.main()
    html = page.read_text()
    assert html.count('http-equiv="Content-Security-Policy"') == 1
    assert "connect-src 'self' wss://abc.execute-api.eu-west-1.amazonaws.com;" in html
    assert "*.amazonaws.com" not in html


def test_the_committed_page_admits_its_own_host_only():
    html = (ROOT / "frontend" / "index.html").read_text()
    assert "connect-src 'self';" in html and "frame-ancestors" not in html
