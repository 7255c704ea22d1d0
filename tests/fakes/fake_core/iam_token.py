# Copyright 2026 The exordos_mail authors
# SPDX-License-Identifier: Apache-2.0
"""IAM token grant: POST /v1/iam/clients/<client>/actions/get_token/invoke.

Form body (application/x-www-form-urlencoded), grant_type password (user,
password, client id/secret, scope=project:<id>, ttl) or refresh_token.
Tokens are JWT-shaped, opaque to the client, and expire after the
configured ttl so that re-authentication is exercised.
"""

import base64
import hashlib
import hmac
import json
import os
import time
import uuid as uuidlib
from urllib.parse import parse_qs

from . import errors

ZERO_CLIENT = "00000000-0000-0000-0000-000000000000"
SECRET = os.urandom(32)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims):
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    sig = hmac.new(SECRET, (head + "." + body).encode(), hashlib.sha256)
    return head + "." + body + "." + b64url(sig.digest())


def form(req):
    ctype = (req.headers.get("Content-Type") or "").split(";")[0].strip()
    if ctype != "application/x-www-form-urlencoded":
        raise errors.validation(
            "Content-Type must be application/x-www-form-urlencoded.")
    try:
        fields = parse_qs(req.body.decode("utf-8"), keep_blank_values=True,
                          strict_parsing=bool(req.body))
    except (UnicodeDecodeError, ValueError):
        raise errors.validation("Malformed form body.")
    return {k: v[0] for k, v in fields.items()}


def check_client(settings, client, f):
    if client == "default":
        return
    if client != ZERO_CLIENT:
        raise errors.RestError(404, "NotFoundError", "Client not found.")
    if (f.get("client_id") != settings.client_id
            or f.get("client_secret") != settings.client_secret):
        raise errors.unauthorized("Invalid client credentials.")


def scope_project(settings, f):
    scope = f.get("scope", "")
    if not scope.startswith("project:"):
        raise errors.validation("scope must be project:<uuid>.")
    project = scope[len("project:"):]
    if project != settings.project:
        raise errors.forbidden("User has no role in project %s." % project)
    return project


def issue(state, project, ttl):
    settings = state.settings
    ttl = min(ttl, settings.token_ttl) if ttl > 0 else settings.token_ttl
    now = time.time()
    access = jwt({"exp": int(now + ttl), "iat": int(now),
                  "auth_time": int(now), "jti": str(uuidlib.uuid4()),
                  "iss": "fake-core", "aud": "account", "sub": settings.user,
                  "typ": "Bearer", "otp": False})
    refresh = b64url(os.urandom(32))
    state.tokens[access] = {"project": project, "expires": now + ttl}
    state.refresh[refresh] = project
    return {"access_token": access, "token_type": "Bearer",
            "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                        time.gmtime(now + ttl)),
            "expires_in": int(ttl), "id_token": access,
            "refresh_token": refresh, "refresh_expires_in": 86400,
            "scope": "project:" + project}


def get_token(state, req):
    settings = state.settings
    f = form(req)
    check_client(settings, req.params["client"], f)
    grant = f.get("grant_type")
    with state.lock:
        state.grants.append(grant)
        if grant == "password":
            if (f.get("username") != settings.user
                    or f.get("password") != settings.password):
                raise errors.unauthorized("Invalid username or password.")
            project = scope_project(settings, f)
        elif grant == "refresh_token":
            project = state.refresh.pop(f.get("refresh_token", ""), None)
            if project is None:
                raise errors.unauthorized("Invalid refresh token.")
        else:
            raise errors.validation("Unsupported grant_type.")
        try:
            ttl = int(f.get("ttl", "0"))
        except ValueError:
            raise errors.validation("ttl must be an integer.")
        return 200, issue(state, project, ttl)


def register(router):
    router.add("POST",
               r"/v1/iam/clients/(?P<client>[^/]+)/actions/get_token/invoke",
               get_token, "token", auth=False)


def expire_all(state):
    """Control: every access token issued so far is stale from now on."""
    with state.lock:
        for info in state.tokens.values():
            info["expires"] = 0
