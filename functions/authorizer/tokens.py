"""TokenVerifier: a JWT from an Amazon Cognito user pool, checked as the pool's guide
says: the signature against the pool's JWKS (keys fetched once per execution environment
and cached), the issuer, the expiry, ``token_use``, and the app client (``aud`` of an ID
token, ``client_id`` of an access token). PyJWT does the cryptography. The display name
comes from a claim meant for display (the layer's ``display_name``), so a verified user
is never refused for the shape of their id."""

from __future__ import annotations

import os
from dataclasses import dataclass

import jwt

from chatroom.protocol import display_name

ALGORITHMS = ["RS256"]
JWKS_CACHE_S = 3600


class InvalidTokenError(Exception):
    """Not a valid token of the pool (signature, issuer, expiry, shape): 401."""


class WrongClientError(Exception):
    """A valid token of the pool, issued to another app client: 403."""


@dataclass(frozen=True)
class Identity:
    subject: str
    name: str


class TokenVerifier:
    def __init__(self, issuer: str, client_id: str, leeway_s: float = 0) -> None:
        self._issuer = issuer.rstrip("/")
        self._client_id = client_id
        self._leeway_s = leeway_s
        self._keys = jwt.PyJWKClient(
            f"{self._issuer}/.well-known/jwks.json", cache_keys=True, lifespan=JWKS_CACHE_S
        )

    @property
    def issuer(self) -> str:
        return self._issuer

    @classmethod
    def from_environment(cls) -> TokenVerifier:
        """The pool's issuer, ``https://cognito-idp.{region}.amazonaws.com/{pool id}``
        (``JWT_ISSUER`` overrides it: the local stage's tests serve their own keys)."""
        pool = os.environ["USER_POOL_ID"]
        region = pool.split("_", 1)[0] if "_" in pool else os.environ.get("AWS_REGION", "")
        issuer = os.environ.get("JWT_ISSUER") or (
            f"https://cognito-idp.{region}.amazonaws.com/{pool}"
        )
        return cls(issuer, os.environ["APP_CLIENT_ID"])

    def verify(self, token: str) -> Identity:
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                issuer=self._issuer,
                leeway=self._leeway_s,
                options={"require": ["exp", "iss", "sub", "token_use"], "verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(str(exc)) from None
        use = claims["token_use"]
        if use == "id":
            client = claims.get("aud")
        elif use == "access":
            client = claims.get("client_id")
        else:
            raise InvalidTokenError(f"token_use {use!r} is neither id nor access")
        if client != self._client_id:
            raise WrongClientError(f"the token is for app client {client!r}")
        return Identity(subject=str(claims["sub"]), name=display_name(claims))
