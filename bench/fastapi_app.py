"""The same two minimal endpoints as evald's, in FastAPI, for bench/sweep.sh (uvicorn from
Debian's packages: `python3 -m uvicorn fastapi_app:app --app-dir bench`).

- GET /health/ping answers {"status":"ok"}, as evald and bench/nginx.conf.in do.
- GET /auth/me checks a bearer token as evald does (src/auth/jwt.cpp): exactly the header
  {"alg":"HS256","typ":"JWT"}, an HMAC-SHA256 signature with JWT_SECRET compared in constant
  time, the claims sub, role, sid, iat and exp present, not expired, not issued in the future;
  then the session must be known and the user is answered. evald reads both from its database
  (through its caches); here they are in memory, given at start: BENCH_USERS is a JSON object
  of user id -> the body evald answers /auth/me with, BENCH_SESSIONS a JSON list of session ids.
  So this side does less than evald's, never more.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time

from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse

SECRET = os.environ["JWT_SECRET"].encode()
USERS: dict = json.loads(os.environ.get("BENCH_USERS", "{}"))
SESSIONS = set(json.loads(os.environ.get("BENCH_SESSIONS", "[]")))
LEEWAY_S = 60
HEADER = {"alg": "HS256", "typ": "JWT"}

app = FastAPI()


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _unauthorized() -> JSONResponse:
    return JSONResponse({"error": {"code": "AUTHENTICATION_FAILED",
                                   "message": "Invalid or expired token"}}, status_code=401,
                        headers={"WWW-Authenticate": "Bearer"})


def _claims(token: str) -> dict | None:
    try:
        head, payload, signature = token.split(".")
        if json.loads(_b64(head)) != HEADER:
            return None
        expected = hmac.new(SECRET, f"{head}.{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _b64(signature)):
            return None
        claims = json.loads(_b64(payload))
    except ValueError:  # a bad split, bad base64, bad JSON
        return None
    if not isinstance(claims, dict):
        return None
    if not all(isinstance(claims.get(k), str) for k in ("sub", "role", "sid")) or \
            not all(isinstance(claims.get(k), int) for k in ("iat", "exp")):
        return None
    now = int(time.time())
    if now >= claims["exp"] or claims["iat"] > now + LEEWAY_S:
        return None
    return claims


@app.get("/health/ping")
async def ping():
    return {"status": "ok"}


@app.get("/auth/me")
async def me(authorization: str | None = Header(default=None)):
    if not authorization or not authorization.startswith("Bearer "):
        return _unauthorized()
    claims = _claims(authorization[7:])
    if claims is None or claims["sid"] not in SESSIONS:
        return _unauthorized()
    user = USERS.get(claims["sub"])
    if user is None:
        return _unauthorized()
    return user
