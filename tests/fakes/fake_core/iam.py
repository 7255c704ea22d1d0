# Copyright 2026 The exordos_mail authors
# SPDX-License-Identifier: Apache-2.0
"""Core IAM for users: GET /v1/iam/clients/<client>/actions/jwks and
GET /v1/iam/clients/<client>/actions/introspect (docs/iam.md).

Tokens are HS256 JWTs (header alg/typ, claims exp/iat/auth_time/jti/iss/aud/
sub/typ/otp) signed with the current secret; the JWKS lists the current and
the previous secret, each sealed as gcl_iam does:
k = "aesgcm:<b64url 12-byte nonce>.<b64url ciphertext+16-byte tag>", AES-256-GCM
under the JWKS encryption key (env FAKE_CORE_IAM_JWKS_KEY, base64url of 32
bytes).  Introspection verifies the token like Core (signature with the
current or the previous secret, expiry, not revoked) and answers
{user_info, project_id, otp_verified, permissions}; any failure is 400.
Users and their tokens are made through the control endpoint:

POST /_fake/iam/tokens   {"sub", "project_id", "permissions", "ttl", "aud",
                          "key": "current"|"previous"|"unknown", "otp": code,
                          "type": "user"|"anon"} -> {"token", "jti", "exp"}
POST /_fake/iam/rotate   the current secret becomes the previous one
POST /_fake/iam/revoke   {"token"}
"""

import base64
import hashlib
import hmac
import json
import os
import threading
import time
import uuid as uuidlib

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from . import errors
from .control import body
from .server import Router

CLIENT_RE = r"(?P<client>[0-9a-f-]{36}|default)"
LOCK = threading.Lock()
SECRETS = [os.urandom(32), os.urandom(32)]  # current, previous
REVOKED = set()
USERS = {}  # jti -> {user_info, project_id, permissions, otp}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwks_key():
    text = os.environ.get("FAKE_CORE_IAM_JWKS_KEY")
    if not text:
        raise SystemExit("fake_core iam: FAKE_CORE_IAM_JWKS_KEY is not set")
    key = unb64url(text)
    if len(key) != 32:
        raise SystemExit("fake_core iam: the JWKS key must be 32 bytes")
    return key


def audience():
    return os.environ.get("FAKE_CORE_IAM_AUDIENCE", "GenesisCoreClientId")


def sign(claims, secret):
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    mac = hmac.new(secret, (head + "." + body).encode(), hashlib.sha256)
    return head + "." + body + "." + b64url(mac.digest())


def seal(secret):
    nonce = os.urandom(12)
    return "aesgcm:%s.%s" % (b64url(nonce),
                             b64url(AESGCM(jwks_key()).encrypt(nonce, secret,
                                                               None)))


def jwks(state, req):
    with LOCK:
        keys = [{"kty": "oct", "alg": "HS256", "k": seal(s)} for s in SECRETS]
    return 200, {"algorithm": "HS256", "keys": keys}


def verified_claims(token):
    """The claims of a token Core itself signed and still honours, or None."""
    try:
        head, body, sig = token.split(".")
        claims = json.loads(unb64url(body))
        mac = unb64url(sig)
    except (ValueError, TypeError):
        return None
    with LOCK:
        secrets = list(SECRETS)
        revoked = token in REVOKED
    signed = any(hmac.compare_digest(
        hmac.new(s, (head + "." + body).encode(), hashlib.sha256).digest(),
        mac) for s in secrets)
    if not signed or revoked or claims.get("exp", 0) <= time.time():
        return None
    return claims


def introspect(state, req):
    auth = req.headers.get("Authorization") or ""
    claims = verified_claims(auth[len("Bearer "):]) if auth.startswith(
        "Bearer ") else None
    user = USERS.get(claims.get("jti")) if claims else None
    if user is None:
        raise errors.RestError(400, "InvalidAuthTokenError",
                               "Invalid or expired token.")
    otp = req.headers.get("X-OTP")
    return 200, {"user_info": user["user_info"],
                 "project_id": user["project_id"],
                 "otp_verified": otp is not None and otp == user["otp"],
                 "permissions": user["permissions"]}


def register(router):
    base = "/v1/iam/clients/" + CLIENT_RE + "/actions/"
    router.add("GET", base + "jwks", jwks, "iam-jwks", auth=False)
    router.add("GET", base + "introspect", introspect, "iam-introspect",
               auth=False)


def make_token(state, req):
    spec = body(req)
    now = int(time.time())
    jti = str(uuidlib.uuid4())
    sub = spec.get("sub", str(uuidlib.uuid4()))
    claims = {"exp": now + int(spec.get("ttl", 3600)), "iat": now,
              "auth_time": now, "jti": jti, "iss": "fake-core-iam",
              "aud": spec.get("aud", audience()), "sub": sub,
              "typ": "Bearer", "otp": spec.get("otp") is not None}
    with LOCK:
        secret = {"current": SECRETS[0], "previous": SECRETS[1]}.get(
            spec.get("key", "current"), os.urandom(32))
        USERS[jti] = {
            "user_info": {"uuid": sub, "name": spec.get("name", "user"),
                          "username": spec.get("name", "user"),
                          "first_name": "", "last_name": "", "email": "",
                          "type": spec.get("type", "user")},
            "project_id": spec.get("project_id"),
            "permissions": spec.get("permissions", []),
            "otp": spec.get("otp")}
    return 200, {"token": sign(claims, secret), "jti": jti,
                 "exp": claims["exp"]}


def rotate(state, req):
    with LOCK:
        SECRETS[1] = SECRETS[0]
        SECRETS[0] = os.urandom(32)
    return 200, {}


def revoke(state, req):
    with LOCK:
        REVOKED.add(body(req).get("token", ""))
    return 200, {}


def register_control(router):
    router.add("POST", "/_fake/iam/tokens", make_token, "iam-tokens",
               auth=False)
    router.add("POST", "/_fake/iam/rotate", rotate, "iam-rotate", auth=False)
    router.add("POST", "/_fake/iam/revoke", revoke, "iam-revoke", auth=False)
