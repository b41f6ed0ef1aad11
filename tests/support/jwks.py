"""A user pool of the tests' own: RSA keys they generate, tokens signed with them, and
the pool's JWKS served on localhost (counting fetches, to see the keys are cached)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

POOL = "us-east-1_TestPool1"
CLIENT = "test-app-client"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class UserPool:
    """Serves ``/<pool>/.well-known/jwks.json``; ``issuer`` is what tokens must name."""

    def __init__(self, kid: str = "key-1") -> None:
        self.kid = kid
        self.key = new_key()
        self.fetches = 0
        pool = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != f"/{POOL}/.well-known/jwks.json":
                    self.send_error(404)
                    return
                pool.fetches += 1
                jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(pool.key.public_key()))
                body = json.dumps({"keys": [{**jwk, "kid": pool.kid, "alg": "RS256"}]})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}/{POOL}"

    def __enter__(self) -> "UserPool":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def token(self, key: Any = None, **claims: Any) -> str:
        """An ID token of ``alice`` for the test client, valid for an hour, unless
        ``claims`` say otherwise (None leaves a claim out)."""
        now = int(time.time())
        body = {
            "sub": "0b8e-alice", "cognito:username": "alice", "aud": CLIENT,
            "iss": self.issuer, "token_use": "id", "iat": now, "exp": now + 3600,
        }  # fmt: skip
        body.update(claims)
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": self.kid})
