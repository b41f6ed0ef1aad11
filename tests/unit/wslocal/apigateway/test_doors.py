"""Which door a request goes through, from its head alone."""

from wslocal.apigateway.doors import Door, choose_door, fallback_door
from wslocal.apigateway.http import parse_request_head


def request(method: str, path: str, *headers: str):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return parse_request_head(("\r\n".join(lines) + "\r\n\r\n").encode())


UPGRADE = ("Upgrade: websocket", "Connection: Upgrade")


def door(req, *, first=True, serves_static=True, websocket_path=True):
    return choose_door(req, first=first, serves_static=serves_static, websocket_path=websocket_path)


def test_a_first_request_that_asks_to_upgrade_is_a_websocket():
    assert door(request("GET", "/dev", *UPGRADE)) is Door.WEBSOCKET


def test_an_upgrade_after_a_keep_alive_request_is_not_a_websocket():
    assert door(request("GET", "/dev", *UPGRADE), first=False) is not Door.WEBSOCKET


def test_connections_paths_go_to_the_management_api_whatever_the_method():
    for method in ("POST", "GET", "DELETE"):
        assert door(request(method, "/dev/@connections/abc=")) is Door.MANAGEMENT_API


def test_a_get_goes_to_the_pages_folder_when_there_is_one():
    assert door(request("GET", "/app.js")) is Door.STATIC


def test_without_a_page_a_get_at_the_apis_address_is_told_to_upgrade():
    assert door(request("GET", "/dev"), serves_static=False) is Door.WEBSOCKET_ADDRESS


def test_a_post_elsewhere_is_not_found():
    assert door(request("POST", "/items")) is Door.NOT_FOUND


def test_a_file_the_page_lacks_falls_back_to_the_apis_address_or_not_found():
    assert fallback_door(request("GET", "/dev"), websocket_path=True) is Door.WEBSOCKET_ADDRESS
    assert fallback_door(request("GET", "/nope"), websocket_path=False) is Door.NOT_FOUND
