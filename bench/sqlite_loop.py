#!/usr/bin/env python3
"""The raw SQLite baseline for refresh rotations.

One transaction per iteration, the shape of `ledger::rotate` without the
gateway: look the presented token up, read its session, mark the token
spent, insert its successor, touch the session's last_used_at. WAL,
synchronous=FULL, foreign keys on, the gateway's own schema (its migration
file), on the disk of the given path. As many iterations as fit in the given
seconds, from one connection; prints one JSON line.

usage: sqlite_loop.py DB SECONDS SESSIONS MIGRATION_SQL
       sqlite_loop.py --probe DIR SECONDS

--probe measures the disk instead: appends of six 4 KiB WAL-sized frames
followed by fsync, for SECONDS, in a scratch file in DIR; prints the fsync
latency percentiles. bench/run probes next to every rotation and loop run,
so a reader can see whether both met the same disk.
"""

import datetime
import hashlib
import json
import os
import sqlite3
import sys
import time
import uuid


def stamp():
    # the text form Diesel stores for a chrono NaiveDateTime
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def new_hash():
    return hashlib.sha256(os.urandom(32)).hexdigest()


def connect(path):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def seed(conn, sessions, migration):
    conn.executescript(migration)
    now = stamp()
    user = str(uuid.uuid4())
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO users (id, username, username_key, password_hash, roles, disabled,"
        " created_at, updated_at) VALUES (?, 'loop', 'loop', 'x', 'user,admin', 0, ?, ?)",
        (user, now, now),
    )
    for _ in range(sessions):
        sid = str(uuid.uuid4())
        conn.execute(
            "INSERT INTO sessions (id, user_id, created_at, expires_at, last_used_at,"
            " user_agent, client_addr) VALUES (?, ?, ?, ?, ?, 'loop', '127.0.0.1')",
            (sid, user, now, "2999-01-01 00:00:00", now),
        )
        conn.execute(
            "INSERT INTO refresh_tokens (token_hash, session_id, parent_hash, created_at)"
            " VALUES (?, ?, NULL, ?)",
            (new_hash(), sid, now),
        )
    conn.execute("COMMIT")


def probe(directory, seconds):
    path = os.path.join(directory, "fsync-probe.bin")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        lat, off, deadline = [], 0, time.monotonic() + seconds
        while time.monotonic() < deadline:
            for _ in range(6):
                os.pwrite(fd, b"f" * 4120, off)
                off = (off + 4120) % (4120 * 1000)
            t = time.monotonic()
            os.fsync(fd)
            lat.append(time.monotonic() - t)
    finally:
        os.close(fd)
        os.unlink(path)
    lat.sort()
    pct = lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 3)
    print(json.dumps({"fsyncs": len(lat), "fsync_p50_ms": pct(0.5), "fsync_p90_ms": pct(0.9)}))


def main():
    if sys.argv[1] == "--probe":
        return probe(sys.argv[2], float(sys.argv[3]))
    path, seconds, sessions, migration_file = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    fresh = not os.path.exists(path)
    conn = connect(path)
    if fresh:
        with open(migration_file) as f:
            seed(conn, sessions, f.read())
    # each session's current (unspent) token
    heads = conn.execute(
        "SELECT token_hash, session_id FROM refresh_tokens WHERE spent_at IS NULL"
    ).fetchall()
    if not heads:
        sys.exit("no unspent tokens to rotate")
    done = 0
    deadline = time.monotonic() + seconds
    start = time.monotonic()
    while time.monotonic() < deadline:
        i = done % len(heads)
        presented, _ = heads[i]
        successor = new_hash()
        now = stamp()
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute(
            "SELECT session_id, spent_at FROM refresh_tokens WHERE token_hash = ?", (presented,)
        ).fetchone()
        conn.execute(
            "SELECT id, user_id, created_at, expires_at, last_used_at, revoked_at, revoked_reason"
            " FROM sessions WHERE id = ?",
            (row[0],),
        ).fetchone()
        conn.execute("UPDATE refresh_tokens SET spent_at = ? WHERE token_hash = ?", (now, presented))
        conn.execute(
            "INSERT INTO refresh_tokens (token_hash, session_id, parent_hash, created_at)"
            " VALUES (?, ?, ?, ?)",
            (successor, row[0], presented, now),
        )
        conn.execute("UPDATE sessions SET last_used_at = ? WHERE id = ?", (now, row[0]))
        conn.execute("COMMIT")
        heads[i] = (successor, row[0])
        done += 1
    elapsed = time.monotonic() - start
    print(json.dumps({"tx": done, "seconds": round(elapsed, 3), "tx_per_s": round(done / elapsed, 1)}))


if __name__ == "__main__":
    main()
