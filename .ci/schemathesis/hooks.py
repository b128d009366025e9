"""Schemathesis hooks for .ci/api-fuzz: an admin bearer token that survives
the fuzzer ending the admin's own sessions.

The fuzzer acts as an admin, so it may call logout-all or end the admin's
sessions through the admin routes, which revokes the very token it uses.
On a 401 Schemathesis drops the token and asks `get` for another: it
refreshes with the session's cookie, or else logs in as a new admin made
with `portcullis user add` (the fuzzer also guesses passwords for every
username it sees, so a known admin's logins soon answer 429). Logins come
from 127.0.0.2, which the fuzzer's own failed logins (from 127.0.0.1)
cannot get throttled.
"""

import http.client
import itertools
import json
import os
import subprocess

import schemathesis

PORT = int(os.environ["FUZZ_PORT"])
BIN = os.environ["FUZZ_BIN"]
PASSWORD = os.environ["FUZZ_ADMIN_PASSWORD"]
COOKIE = "portcullis_refresh"
_admins = itertools.count(1)


def _post(path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=15, source_address=("127.0.0.2", 0))
    try:
        all_headers = {"Content-Type": "application/json"} if body is not None else {}
        all_headers.update(headers or {})
        conn.request("POST", path, body=None if body is None else json.dumps(body), headers=all_headers)
        res = conn.getresponse()
        payload = res.read()
        cookie = None
        for name, value in res.getheaders():
            if name.lower() == "set-cookie" and value.startswith(COOKIE + "="):
                cookie = value.split(";", 1)[0]
        return res.status, payload, cookie
    finally:
        conn.close()


def _new_admin():
    name = f"fuzz-admin-{next(_admins)}"
    subprocess.run(
        [BIN, "user", "add", name, "--role", "admin", "--password-stdin"],
        input=PASSWORD + "\n", text=True, check=True, capture_output=True,
    )
    return name


@schemathesis.auth(retry_on=[401])
class AdminToken:
    cookie = None

    def get(self, case, ctx):
        if self.cookie:
            status, body, cookie = _post("/auth/refresh", headers={"X-CSRF": "1", "Cookie": self.cookie})
            if status == 200:
                self.cookie = cookie or self.cookie
                return json.loads(body)["access_token"]
        status, body, cookie = _post("/auth/login", {"username": _new_admin(), "password": PASSWORD})
        if status != 200:
            raise RuntimeError(f"admin login failed: {status} {body[:200]!r}")
        self.cookie = cookie
        return json.loads(body)["access_token"]

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
