#!/usr/bin/env python3
"""Turns bench/envelope's results.jsonl into its part of BENCHMARKS.md
(between the bench/envelope markers; the rest of the file is kept) and
prints it.

usage: envelope_report.py RESULTS.jsonl BENCHMARKS.md   (settings from BENCH_*)
"""

import datetime
import os
import sys

from report import Figure, commit, cpu_per_req, load, machine, ms, ratio, rps, sh, verdict

BEGIN = "<!-- bench/envelope:begin (generated: everything up to bench/envelope:end is rewritten by bench/envelope) -->"
END = "<!-- bench/envelope:end -->"

NAMES = {
    "direct": "direct to upstream-demo (no proxy)",
    "nginx": "nginx, plain keep-alive proxy (verifies nothing)",
    "hs256": "**portcullis, HS256**",
    "hs256_1w": "portcullis, HS256, `PORTCULLIS_WORKERS=1`",
    "eddsa": "**portcullis, EdDSA**",
    "haproxy_hs256": "HAProxy 2.6 `jwt_verify`, HS256",
    "haproxy_es256": "HAProxy 2.6 `jwt_verify`, ES256",
    "haproxy_rs256": "HAProxy 2.6 `jwt_verify`, RS256",
    "njs": "nginx + njs, HS256",
    "express1": "Express + jsonwebtoken + http-proxy-middleware, 1 process",
    "express2": "the same, `node:cluster` of 2",
    "tls_nginx_upstream": "nginx terminating TLS → upstream (verifies nothing)",
    "tls_portcullis": "**portcullis's own HTTPS listener, HS256**",
    "tls_nginx_portcullis": "nginx terminating TLS → portcullis plain, HS256",
    "tls_haproxy": "HAProxy terminating TLS, `jwt_verify` HS256",
}


class Case:
    """The runs of one target at one connection count."""

    def __init__(self, runs):
        self.runs = runs
        self.rps = Figure(map(rps, runs))
        self.p50 = Figure(ms(r, "p50_us") for r in runs)
        self.p99 = Figure(ms(r, "p99_us") for r in runs)
        self.p999 = Figure(ms(r, "p999_us") for r in runs)
        self.cpu = Figure(map(cpu_per_req, runs))
        self.up_cpu = Figure(cpu_per_req(r, "upstream") for r in runs)
        keys = ("err_connect", "err_read", "err_write", "err_timeout", "err_status")
        self.errors = sum(r["wrk"][k] for r in runs for k in keys)


def build(rows):
    env = os.environ
    get = lambda case, conns: Case(rows.get((case, conns), []))
    out, summary = [], []
    w = out.append
    haproxy = sh("haproxy -v | head -1").split(" - ")[0]
    njs = sh("dpkg-query -W -f '${Version}' libnginx-mod-http-js")
    node = sh("node --version")
    w("## The envelope: JWT-verifying peers, concurrency, TLS (`bench/envelope`)")
    w("")
    w(f"- **Date**: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; **commit** {commit()}")
    w(f"- **Machine**: {machine()}")
    w(f"- **Peers**: {haproxy}; nginx njs module {njs}; Node.js {node} with the versions in `bench/peers/express/package-lock.json`")
    w(
        f"- **Method**: `bench/envelope`, release build, loopback only; wrk {env.get('BENCH_THREADS', '2')} threads, "
        f"{env.get('BENCH_RUNS', '3')} runs × {env.get('BENCH_DURATION', '5')} s per figure, interleaved between the "
        "targets of each table after a 1 s warm-up; *median (min–max)*; ratios of medians. Every verifier checks the "
        "signature, `exp`, `iss`, `aud` and the role and adds the identity headers, and was first seen to pass the good "
        "token and refuse none, a broken signature, an expired token and one of another algorithm (401). Every proxy "
        "keeps at most 256 upstream connections per worker (portcullis's pool; nginx `keepalive 256`, HAProxy "
        "`maxconn 512` for its 2 threads, Express `maxSockets 256`), all in front of the same upstream-demo "
        "(one actix worker). Two workers/threads/processes each (one per core), except Express 1. "
        f"Took {env.get('BENCH_ELAPSED', '?')} s after the build."
    )
    w(f"- **Load average** before: {env.get('BENCH_LOAD_BEFORE', '?')}, after: {env.get('BENCH_LOAD_AFTER', '?')}")
    w("")

    hap = get("haproxy_hs256", 32)
    w("### The peers (32 connections)")
    w("")
    w("| path | req/s | p50 ms | p99 ms | p99.9 ms | req/s × HAProxy HS256 | p99 × HAProxy HS256 | proxy CPU µs/req | upstream CPU µs/req |")
    w("|---|---|---|---|---|---|---|---|---|")
    for case in ("direct", "nginx", "hs256", "hs256_1w", "eddsa", "haproxy_hs256", "haproxy_es256", "haproxy_rs256", "njs", "express1", "express2"):
        c = get(case, 32)
        w(
            f"| {NAMES[case]} | {c.rps.fmt()} | {c.p50.fmt(2)} | {c.p99.fmt(2)} | {c.p999.fmt(2)} | "
            f"{ratio(c.rps.med, hap.rps.med):.2f} × | {ratio(c.p99.med, hap.p99.med):.2f} × | "
            f"{c.cpu.fmt(1)} | {c.up_cpu.fmt(1)} |"
        )
    w("")
    ed, es = get("eddsa", 32), get("haproxy_es256", 32)

    w("### The sweep: 8 to 1024 connections")
    w("")
    w("| connections | path | req/s | p50 ms | p99 ms | p99.9 ms | socket errors | req/s × HAProxy | p99 × HAProxy |")
    w("|---|---|---|---|---|---|---|---|---|")
    sweep = sorted({conns for (case, conns) in rows if case == "hs256"})
    for conns in sweep:
        h = get("haproxy_hs256", conns)
        for case in ("nginx", "haproxy_hs256", "hs256", "hs256_1w"):
            c = get(case, conns)
            w(
                f"| {conns} | {NAMES[case]} | {c.rps.fmt()} | {c.p50.fmt(2)} | {c.p99.fmt(2)} | {c.p999.fmt(2)} | "
                f"{c.errors} | {ratio(c.rps.med, h.rps.med):.2f} × | {ratio(c.p99.med, h.p99.med):.2f} × |"
            )
    w("")
    for conns in (32, 256):
        p, h = get("hs256", conns), get("haproxy_hs256", conns)
        r = ratio(p.rps.med, h.rps.med)
        summary.append((f"HS256 req/s × HAProxy `jwt_verify`, {conns} connections", f"{r:.2f} ×", "≥ 1.0 ×", verdict(r >= 1.0)))
        r = ratio(p.p99.med, h.p99.med)
        summary.append((f"HS256 p99 × HAProxy's, {conns} connections", f"{r:.2f} × ({p.p99.med:.2f} against {h.p99.med:.2f} ms)", "≤ 1.0 ×", verdict(r <= 1.0)))
    r = ratio(ed.rps.med, es.rps.med)
    summary.append(("EdDSA req/s × HAProxy ES256, 32 connections", f"{r:.2f} ×", "≥ 1.0 ×", verdict(r >= 1.0)))
    top, mid = get("hs256", 1024), get("hs256", 256)
    summary.append(("errors at 1024 connections (portcullis)", str(top.errors), "0", verdict(top.runs and top.errors == 0)))
    r = ratio(top.p99.med, mid.p99.med)
    summary.append(("p99 at 1024 ÷ p99 at 256 (portcullis)", f"{r:.2f} ×", "≤ 1.5 ×", verdict(r <= 1.5)))

    w("### TLS 1.3, ECDSA P-256 certificate (32 connections)")
    w("")
    w("| path | keep-alive req/s | p99 ms | CPU µs/req | × nginx TLS | new connection per request: handshakes/s | p99 ms | CPU µs/handshake | × nginx TLS |")
    w("|---|---|---|---|---|---|---|---|---|")
    ka0, hs0 = get("tls_nginx_upstream", 32), get("hs_tls_nginx_upstream", 32)
    for case in ("tls_nginx_upstream", "tls_portcullis", "tls_nginx_portcullis", "tls_haproxy"):
        ka, hs = get(case, 32), get("hs_" + case, 32)
        w(
            f"| {NAMES[case]} | {ka.rps.fmt()} | {ka.p99.fmt(2)} | {ka.cpu.fmt(1)} | {ratio(ka.rps.med, ka0.rps.med):.2f} × | "
            f"{hs.rps.fmt()} | {hs.p99.fmt(2)} | {hs.cpu.fmt(1)} | {ratio(hs.rps.med, hs0.rps.med):.2f} × |"
        )
    w("")
    w(
        "CPU is the terminating process's (with nginx → portcullis: nginx and the gateway together). A new "
        "connection per request is wrk with `Connection: close`: a TCP connect and a full TLS 1.3 handshake "
        "(wrk resumes no session) for every request."
    )
    w("")
    ka, hs = get("tls_portcullis", 32), get("hs_tls_portcullis", 32)
    r = ratio(ka.rps.med, ka0.rps.med)
    summary.append(("TLS keep-alive req/s × nginx terminating TLS", f"{r:.2f} ×", "≥ 0.9 ×", verdict(r >= 0.9)))
    r = ratio(hs.rps.med, hs0.rps.med)
    summary.append(("TLS handshakes/s × nginx's", f"{r:.2f} ×", "≥ 0.9 ×", verdict(r >= 0.9)))

    head = ["### The envelope's goals", "", "| claim | measured | goal | |", "|---|---|---|---|"]
    head += ["| " + " | ".join(row) + " |" for row in summary]
    return out[:8] + head + [""] + out[8:]


def write(path, body):
    section = "\n".join([BEGIN, "", *body, END])
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    if BEGIN.split(" (")[0] in text:
        head, rest = text.split(BEGIN.split(" (")[0], 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        # before the hand-written profile notes, after bench/run's part
        marker = "<!-- bench/run:end -->"
        if marker in text:
            head, rest = text.split(marker, 1)
            text = head + marker + "\n\n" + section + rest
        else:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
    with open(path, "w") as f:
        f.write(text)


def main():
    body = build(load(sys.argv[1], key=lambda r: (r["case"], r["conns"])))
    print("\n".join(body))
    write(sys.argv[2], body)


if __name__ == "__main__":
    main()
