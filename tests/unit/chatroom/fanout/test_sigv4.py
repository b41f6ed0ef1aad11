"""PostSigner: the very headers botocore's SigV4Auth makes for the same request and time,
with the signing key derived once per secret key and day."""

import datetime
from urllib.parse import quote

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, RefreshableCredentials

from chatroom.fanout.sigv4 import PostSigner, canonical_uri

NOON = datetime.datetime(2026, 11, 28, 12, 0, 0, tzinfo=datetime.UTC)
HOST = "abc123.execute-api.eu-west-1.amazonaws.com"
IDS = ["L0SM9cOFvHcCIhw=", "a/b+c", "with space", "é~_.-", "%41", ".", ".."]


def botocore_headers(monkeypatch, credentials, path, body, at, host=HOST):
    """What ``SigV4Auth.add_auth`` puts on this request at ``at``."""
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: at)
    request = AWSRequest(method="POST", url=f"https://{host}{path}", data=body)
    SigV4Auth(credentials, "execute-api", "eu-west-1").add_auth(request)
    return dict(request.headers.items())


def signed(signer, path, body):
    signature = signer.for_body(body)
    authorization = (
        signature.authorization_prefix + signature.signature(canonical_uri(path).encode()).decode()
    )
    found = {"Authorization": authorization, "X-Amz-Date": signature.amz_date}
    if signature.security_token is not None:
        found["X-Amz-Security-Token"] = signature.security_token
    return found


def signer_at(credentials, moments, host=HOST):
    times = iter(moment.timestamp() for moment in moments)
    return PostSigner(credentials, host, "eu-west-1", "execute-api", clock=lambda: next(times))


@pytest.mark.parametrize("connection_id", IDS)
@pytest.mark.parametrize("token", ["session-token", None])
def test_the_headers_are_botocores_byte_for_byte(monkeypatch, connection_id, token):
    credentials = Credentials("AKIDEXAMPLE", "secret", token)
    path = f"/production/@connections/{quote(connection_id, safe='')}"
    expected = botocore_headers(monkeypatch, credentials, path, b"hello", NOON)
    assert signed(signer_at(credentials, [NOON]), path, b"hello") == expected
    assert "X-Amz-Content-SHA256" not in expected


def test_a_new_day_signs_with_that_days_key(monkeypatch):
    credentials = Credentials("AKIDEXAMPLE", "secret", "session-token")
    before = datetime.datetime(2026, 11, 28, 23, 59, 59, tzinfo=datetime.UTC)
    after = before + datetime.timedelta(seconds=1)
    signer = signer_at(credentials, [before, after])
    path = "/dev/@connections/abc%3D"
    first = signed(signer, path, b"x")
    second = signed(signer, path, b"x")
    assert first == botocore_headers(monkeypatch, credentials, path, b"x", before)
    assert second == botocore_headers(monkeypatch, credentials, path, b"x", after)
    assert "/20261129/eu-west-1/execute-api/aws4_request" in second["Authorization"]


def test_credentials_refreshed_by_their_provider_sign_the_next_request(monkeypatch):
    now = NOON
    renewed = {
        "access_key": "AKIDRENEWED",
        "secret_key": "renewed-secret",
        "token": "renewed-token",
        "expiry_time": (NOON + datetime.timedelta(hours=2)).isoformat(),
    }
    credentials = RefreshableCredentials(
        "AKIDFIRST", "first-secret", "first-token", NOON + datetime.timedelta(minutes=30),
        refresh_using=lambda: renewed, method="test", time_fetcher=lambda: now,
    )  # fmt: skip
    later = NOON + datetime.timedelta(hours=1)
    signer = signer_at(credentials, [NOON, later])
    path = "/dev/@connections/abc%3D"
    first = signed(signer, path, b"x")
    now = later
    second = signed(signer, path, b"x")
    old = Credentials("AKIDFIRST", "first-secret", "first-token")
    new = Credentials("AKIDRENEWED", "renewed-secret", "renewed-token")
    assert first == botocore_headers(monkeypatch, old, path, b"x", NOON)
    assert second == botocore_headers(monkeypatch, new, path, b"x", later)


def test_a_different_body_is_hashed_again(monkeypatch):
    credentials = Credentials("AKIDEXAMPLE", "secret", None)
    signer = signer_at(credentials, [NOON, NOON, NOON])
    path = "/dev/@connections/abc%3D"
    body = bytearray(b"first")
    assert signed(signer, path, b"first") == signed(signer, path, body)
    body[:] = b"other"
    assert signed(signer, path, body) == botocore_headers(
        monkeypatch, credentials, path, b"other", NOON
    )
