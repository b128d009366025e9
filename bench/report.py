#!/usr/bin/env python3
"""Turns bench/run's results.jsonl into a table on stdout and the generated
part of BENCHMARKS.md (between the markers; the rest of the file is kept).

usage: report.py RESULTS.jsonl BENCHMARKS.md   (settings come from BENCH_*)
"""

import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys

BEGIN = "<!-- bench/run:begin (generated: everything up to bench/run:end is rewritten by bench/run) -->"
END = "<!-- bench/run:end -->"
PROFILE_HEADING = "## What the profile shows"

TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")


def load(path, key=lambda r: r["case"]):
    """The result lines of a run, grouped by `key` (the case, by default)."""
    rows = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                rows.setdefault(key(r), []).append(r)
    return rows


class Figure:
    """A measured quantity over runs: median with min–max."""

    def __init__(self, values):
        self.values = [v for v in values if v is not None]

    @property
    def med(self):
        return statistics.median(self.values) if self.values else float("nan")

    def fmt(self, digits=0, unit=""):
        if not self.values:
            return "n/a"
        f = f"{{:,.{digits}f}}"
        lo, hi = min(self.values), max(self.values)
        return f"{f.format(self.med)}{unit} ({f.format(lo)}–{f.format(hi)})"


def secs(r):
    return r["wrk"]["duration_us"] / 1e6


def rps(r):
    return r["wrk"]["requests"] / secs(r)


def ms(r, key):
    return r["wrk"][key] / 1000.0


def cpu_per_req(r, who="cpu", part=("user", "sys")):
    n = r["wrk"]["requests"]
    ticks = sum(r[f"{who}_{p}_ticks"] for p in part)
    return ticks * TICK_US / n if n else None


def ratio(a, b):
    return a / b if b else float("nan")


def verdict(ok):
    return "met" if ok else "**not met**"


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return ""


def machine():
    cpu = sh("lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1")
    mem = sh("free -g | awk '/^Mem:/{print $2}'")
    disk = sh(f"df -P {os.environ.get('BENCH_WORK', '/tmp')} | awk 'NR==2{{print $1}}'")
    fs = sh(f"stat -f -c %T {os.environ.get('BENCH_WORK', '/tmp')}")
    return (
        f"{os.cpu_count()} × {cpu or platform.processor()}, {mem} GiB RAM, "
        f"Linux {platform.release()}, temp files on {disk} ({fs})"
    )


def versions():
    nginx = sh("nginx -v 2>&1").replace("nginx version: ", "")
    wrk = sh("wrk -v 2>&1 | head -1").split(" Copyright")[0]
    rustc = sh("rustc --version")
    return f"{rustc}; {nginx}; {wrk}; Python sqlite3 {__import__('sqlite3').sqlite_version} for the loop"


def commit():
    here = os.path.dirname(os.path.abspath(__file__))
    rev = sh(f"git -C {here} rev-parse --short=12 HEAD")
    dirty = sh(f"git -C {here} status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock")
    subject = sh(f"git -C {here} log -1 --format=%s")
    return f"`{rev}`{' + uncommitted changes under src/' if dirty else ''} ({subject[:70]})"


def build(rows):
    env = os.environ
    runs, dur, conns = env.get("BENCH_RUNS", "3"), env.get("BENCH_DURATION", "5"), env.get("BENCH_CONNS", "32")
    out = []
    w = out.append
    summary = []  # (claim, measured, goal, verdict)

    w(f"- **Date**: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}")
    w(f"- **Commit**: {commit()}")
    w(f"- **Machine**: {machine()}")
    w(f"- **Tools**: {versions()}")
    w(
        f"- **Method**: `bench/run`, release build, loopback only; wrk {env.get('BENCH_THREADS', '2')} threads × "
        f"{conns} connections, {runs} runs × {dur} s per figure (interleaved between targets, after a 1 s "
        f"warm-up); figures are *median (min–max)* over the runs; ratios are ratios of medians. "
        f"Client, proxies and upstream share the same cores. Took {env.get('BENCH_ELAPSED', '?')} s after the build."
    )
    w(
        f"- **Load average** (1/5/15 min) before: {env.get('BENCH_LOAD_BEFORE', '?')}, after: "
        f"{env.get('BENCH_LOAD_AFTER', '?')} (the bench itself keeps both cores busy; anything above "
        f"about 2 at the start means other work shared the machine)"
    )
    w("")

    # 1 + 6 ---------------------------------------------------------------
    api = {c: rows.get(f"api_{c}", []) for c in ("direct", "nginx", "bare", "hs256", "eddsa")}
    ngx = api["nginx"]
    ngx_rps, ngx_p99 = Figure(map(rps, ngx)).med, Figure(ms(r, "p99_us") for r in ngx).med
    ngx_cpu = Figure(map(cpu_per_req, ngx)).med
    w("### 1. `GET /api/employees` (32 connections) and 6. CPU per request")
    w("")
    w("| path | req/s | p50 ms | p99 ms | throughput × nginx | p99 × nginx | proxy CPU µs/req (user + sys) | CPU × nginx | upstream CPU µs/req |")
    w("|---|---|---|---|---|---|---|---|---|")
    names = {
        "direct": "direct to upstream-demo",
        "nginx": "nginx plain keep-alive proxy",
        "bare": "bare actix-web + awc proxy (`examples/bare_proxy.rs`: no auth, no headers, no log)",
        "hs256": "portcullis, HS256 bearer",
        "eddsa": "portcullis, EdDSA bearer",
    }
    for c, rs in api.items():
        r_rps = Figure(map(rps, rs))
        p50 = Figure(ms(r, "p50_us") for r in rs)
        p99 = Figure(ms(r, "p99_us") for r in rs)
        cpu = Figure(map(cpu_per_req, rs)) if c != "direct" else Figure([])
        cpu_u = Figure(cpu_per_req(r, part=("user",)) for r in rs)
        cpu_s = Figure(cpu_per_req(r, part=("sys",)) for r in rs)
        up = Figure(cpu_per_req(r, "upstream") for r in rs)
        w(
            f"| {names[c]} | {r_rps.fmt()} | {p50.fmt(2)} | {p99.fmt(2)} | {ratio(r_rps.med, ngx_rps):.2f} × "
            f"| {ratio(p99.med, ngx_p99):.2f} × "
            f"| {f'{cpu.fmt(1)} = {cpu_u.med:.1f} + {cpu_s.med:.1f}' if c != 'direct' else '—'} "
            f"| {f'{ratio(cpu.med, ngx_cpu):.2f} ×' if c != 'direct' else '—'} | {up.fmt(1)} |"
        )
        if c in ("hs256", "eddsa"):
            tput, tail = ratio(r_rps.med, ngx_rps), ratio(p99.med, ngx_p99)
            summary.append(
                (
                    f"`/api` {dict(hs256='HS256', eddsa='EdDSA')[c]}",
                    f"{tput:.2f} × nginx throughput, p99 {tail:.2f} × nginx",
                    "≥ 1.0 ×, p99 ≤ 1.0 ×",
                    verdict(tput >= 1.0 and tail <= 1.0),
                )
            )
            if c == "hs256" and api["bare"]:
                bare_rps = Figure(map(rps, api["bare"])).med
                bare_p99 = Figure(ms(r, "p99_us") for r in api["bare"]).med
                summary.append(
                    (
                        "the floor: bare actix-web + awc",
                        f"{ratio(bare_rps, ngx_rps):.2f} × nginx throughput, p99 {ratio(bare_p99, ngx_p99):.2f} × nginx; "
                        f"HS256 gateway = {ratio(r_rps.med, bare_rps):.2f} × bare",
                        "(context)",
                        "",
                    )
                )
            if c == "hs256":
                summary.append(
                    (
                        "CPU per proxied request (HS256)",
                        f"{cpu.med:.1f} µs vs nginx {ngx_cpu:.1f} µs = {ratio(cpu.med, ngx_cpu):.2f} ×",
                        "(context)",
                        "",
                    )
                )
    w("")
    w(
        "CPU is utime+stime from `/proc/PID/stat` (all threads; for nginx the master and its workers) "
        "across each wrk run, divided by the requests of that run; the upstream's own CPU per request is "
        "shown for comparison (the same work in every row). user + sys are the medians of each part."
    )
    w("")

    # 2 -------------------------------------------------------------------
    ref = rows.get("refresh", [])
    loop = rows.get("sqlite_loop", [])
    rot = Figure(r["wrk"]["ok"] / secs(r) for r in ref)
    p50 = Figure(ms(r, "p50_us") for r in ref)
    p99 = Figure(ms(r, "p99_us") for r in ref)
    mx = Figure(ms(r, "max_us") for r in ref)
    lost = sum(r["wrk"]["lost"] + r["wrk"]["nocookie"] for r in ref)
    sockerr = sum(r["wrk"]["err_timeout"] + r["wrk"]["err_read"] + r["wrk"]["err_connect"] + r["wrk"]["err_write"] for r in ref)
    starved = sum(r["wrk"]["starved"] for r in ref)
    tx = Figure(r["wrk"]["tx_per_s"] for r in loop)
    committed = rows.get("refresh_db", [{}])[0].get("committed_rotations")
    rr = ratio(rot.med, tx.med)
    w(f"### 2. Refresh rotations over HTTP ({env.get('BENCH_SESSIONS', '?')} sessions, HS256 gateway)")
    w("")
    w("| figure | value |")
    w("|---|---|")
    w(f"| rotations/s (200 with a new cookie) | {rot.fmt()} |")
    w(f"| rotation latency p50 / p99 / max, ms | {p50.fmt(1)} / {p99.fmt(1)} / {mx.fmt(0)} |")
    w(f"| lost (non-200, or 200 without a cookie), all runs | {lost} |")
    w(f"| wrk socket errors or timeouts, all runs | {sockerr} (pool ran dry: {starved}) |")
    w(f"| raw SQLite loop, transactions/s | {tx.fmt()} |")
    w(f"| **gateway ÷ loop** | **{rr:.2f} ×** |")
    dref = Figure(r["wrk"]["fsync_p50_ms"] for r in rows.get("disk_before_refresh", []))
    dloop = Figure(r["wrk"]["fsync_p50_ms"] for r in rows.get("disk_before_loop", []))
    if dref.values:
        w(f"| disk: fsync p50 of a 0.5 s probe just before the rotation runs / the loop runs, ms | {dref.fmt(3)} / {dloop.fmt(3)} |")
    if committed is not None:
        w(f"| rotations committed in the gateway's database (incl. warm-up and in-flight at stop) | {committed:,} |")
    w("")
    w(
        "The loop (`bench/sqlite_loop.py`) runs the shape of `ledger::rotate` from one Python connection on "
        "the same disk: `BEGIN IMMEDIATE`, select the token and its session, mark the token spent, insert "
        "its successor, update the session's `last_used_at`, `COMMIT`; WAL, `synchronous=FULL`, foreign "
        "keys on, the gateway's own migration for the schema. On a disk shared with other work the "
        "fsync latency swings by 10–40× within seconds (0.1 ms to 4 ms here); the two probes show "
        "whether the gateway and the loop met the same disk, and the ratio means little when they differ."
    )
    w("")
    summary.append(
        (
            "Refresh rotations",
            f"{rr:.2f} × the raw loop; p99 {p99.med:.1f} ms; {lost} lost",
            "≥ 1.0 ×, p99 ≤ 20 ms, none lost",
            verdict(rr >= 1.0 and p99.med <= 20 and lost == 0),
        )
    )

    # 3 -------------------------------------------------------------------
    noop = Figure(r["seconds"] * 1000 for r in rows.get("seq_noop", []))
    fail = Figure(r["seconds"] * 1000 for r in rows.get("seq_fail", []))
    okl = Figure(r["seconds"] * 1000 for r in rows.get("seq_ok", []))
    hash_ms = fail.med - noop.med
    cores = os.cpu_count()
    ideal = cores / (hash_ms / 1000) if hash_ms > 0 else float("nan")
    pnoop = Figure(r["seconds"] * 1000 for r in rows.get("par_noop", []))
    pfail = Figure(r["seconds"] * 1000 for r in rows.get("par_fail", []))
    par_ms = pfail.med - pnoop.med if pfail.values else float("nan")
    par_ideal = cores / (par_ms / 1000) if par_ms > 0 else float("nan")
    lg = rows.get("login", [])
    lps = Figure(r["wrk"]["ok"] / secs(r) for r in lg)
    lp99 = Figure(ms(r, "p99_us") for r in lg)
    refused = sum(r["wrk"]["throttled"] for r in lg)
    other = sum(r["wrk"]["other"] + r["wrk"]["err_timeout"] for r in lg)
    lr = ratio(lps.med, ideal)
    w("### 3. Logins")
    w("")
    w("| figure | value |")
    w("|---|---|")
    w(f"| sequential no-op `POST /auth/login` (malformed JSON → 400), ms | {noop.fmt(2)} |")
    w(f"| sequential unknown-user login (one argon2id verify → 401), ms | {fail.fmt(2)} |")
    w(f"| sequential successful login, ms | {okl.fmt(2)} |")
    w(f"| **argon2id hash time** = unknown-user − no-op medians, ms | **{hash_ms:.2f}** |")
    w(f"| cores ÷ hash time, logins/s | {ideal:,.1f} |")
    w(f"| the same with every core hashing at once ({cores} streams): unknown-user {pfail.fmt(2)} − no-op {pnoop.fmt(2)} = hash time, ms | {par_ms:.2f} |")
    w(f"| cores ÷ that hash time, logins/s | {par_ideal:,.1f} |")
    w(f"| measured logins/s (200s, 32 connections) | {lps.fmt(1)} |")
    w(f"| login p99, ms | {lp99.fmt(0)} |")
    w(f"| 429 answers / other failures, all runs | {refused} / {other} |")
    w(f"| **measured ÷ ideal** | **{lr:.2f} ×** |")
    w(f"| measured ÷ (cores ÷ the hash time with every core hashing) | {ratio(lps.med, par_ideal):.2f} × |")
    w("")
    w(
        "The hash time is measured through the gateway itself: the median latency of 15 sequential "
        "curl logins of unknown users (the handler verifies the password against a dummy hash with "
        "the same parameters, m=19456 KiB, t=2, p=1; no session is written) minus the median of 15 "
        "sequential requests to the same route that stop at the JSON extractor. Logins in the wrk runs "
        f"go round-robin over {env.get('BENCH_USERS', '?')} users, each request with its own `X-Forwarded-For` (the bench gateways "
        "trust 127.0.0.1 as a proxy), so the per-user and per-address throttle never sees repeats. "
        "A hash takes longer when every core hashes at once (the cores share caches and memory "
        "bandwidth, and argon2id is memory-hard): the second hash time is measured the same way with "
        "one curl stream per core running side by side."
    )
    w("")
    summary.append(
        (
            "Logins/s",
            f"{lr:.2f} × (cores ÷ hash time)",
            "≥ 0.95 ×",
            verdict(lr >= 0.95),
        )
    )
    summary.append(
        (
            "Logins/s against the hash time with every core hashing",
            f"{ratio(lps.med, par_ideal):.2f} × (cores ÷ {par_ms:.2f} ms)",
            "(context)",
            "",
        )
    )

    # 4 -------------------------------------------------------------------
    idle = rows.get("storm_idle", [])
    st = rows.get("storm_api", [])
    ip99 = Figure(ms(r, "p99_us") for r in idle)
    sp99 = Figure(ms(r, "p99_us") for r in st)
    irps = Figure(map(rps, idle))
    srps = Figure(map(rps, st))
    slog = Figure(r["storm"]["ok"] / (r["storm"]["duration_us"] / 1e6) for r in st)
    s429 = sum(r["storm"]["throttled"] for r in st)
    sr = ratio(sp99.med, ip99.med)
    spin = rows.get("spin_api", [])
    np99 = Figure(ms(r, "p99_us") for r in spin)
    nrps = Figure(map(rps, spin))
    nr = ratio(np99.med, ip99.med) if spin else float("nan")
    w("### 4. `/api` (HS256) during a login storm")
    w("")
    w("| figure | idle | during the storm | beside two `SCHED_IDLE` busy loops |")
    w("|---|---|---|---|")
    w(f"| `/api` p99, ms | {ip99.fmt(2)} | {sp99.fmt(2)} | {np99.fmt(2)} |")
    w(f"| `/api` req/s | {irps.fmt()} | {srps.fmt()} | {nrps.fmt()} |")
    w(f"| logins/s of the storm (32 connections; 429s: {s429}) | — | {slog.fmt(1)} | — |")
    w(f"| **p99 ÷ idle** | | **{sr:.2f} ×** | {nr:.2f} × |")
    w("")
    w(
        "The last column is the floor of any storm that uses the idle CPU: two `sh` busy loops started "
        "with `chrt --idle 0`, the scheduling class of the hashing threads, with no memory traffic and no "
        "requests. Whatever they cost `/api` is the price of running anything at all in the time `/api` "
        "leaves idle on this machine."
    )
    w("")
    summary.append(("`/api` p99 during a login storm", f"{sr:.2f} × idle", "≤ 1.5 ×", verdict(sr <= 1.5)))
    if spin:
        summary.append(("the floor: `/api` p99 beside two SCHED_IDLE busy loops", f"{nr:.2f} × idle", "(context)", ""))

    # 5 -------------------------------------------------------------------
    rss = rows.get("rss", [{}])[0]
    c256 = rows.get("api_hs256_256conns", [])
    w("### 5. Memory")
    w("")
    w("| process | peak RSS (VmHWM) | RSS at the end |")
    w("|---|---|---|")
    if rss:
        w(f"| portcullis HS256 (all of the above, logins, storm, then 256 connections) | {rss['hs_hwm_kib'] / 1024:.1f} MiB | {rss['hs_rss_kib'] / 1024:.1f} MiB |")
        w(f"| portcullis EdDSA (`/api` runs only) | {rss['ed_hwm_kib'] / 1024:.1f} MiB | {rss['ed_rss_kib'] / 1024:.1f} MiB |")
        w(f"| nginx (master + workers, summed) | {rss['nginx_hwm_kib'] / 1024:.1f} MiB | |")
        w(f"| upstream-demo | {rss['upstream_hwm_kib'] / 1024:.1f} MiB | |")
    if c256:
        r = c256[0]
        w("")
        w(f"The 256-connection run (one run, for memory): {rps(r):,.0f} req/s, p99 {ms(r, 'p99_us'):.2f} ms.")
    w("")
    if rss:
        mib = rss["hs_hwm_kib"] / 1024
        summary.append(("Peak RSS", f"{mib:.0f} MiB", "≤ 80 MB", verdict(mib * 1.048576 <= 80)))

    head = ["### Summary: the issue's goals", "", "| claim | measured | goal | |", "|---|---|---|---|"]
    for row in summary:
        head.append("| " + " | ".join(row) + " |")
    head.append("")
    return head + out


def write(path, body):
    generated = "\n".join([BEGIN, "", *body, END])
    if os.path.exists(path):
        text = open(path).read()
        if BEGIN.split(" (")[0] in text and END in text:
            start = text.index(BEGIN.split(" (")[0])
            stop = text.index(END) + len(END)
            text = text[:start] + generated + text[stop:]
        else:
            sys.exit(f"{path} exists without the bench/run markers; not touching it")
    else:
        text = "\n".join(
            [
                "# Benchmarks",
                "",
                "Produced by `bench/run` (see `bench/README.md`). The section between the markers is",
                "rewritten by every run; everything else in this file is kept as written.",
                "",
                generated,
                "",
                PROFILE_HEADING,
                "",
                "(Written by hand after profiling; `bench/run` never changes this section.)",
                "",
            ]
        )
    with open(path, "w") as f:
        f.write(text)


def main():
    rows = load(sys.argv[1])
    body = build(rows)
    print("\n".join(body))
    write(sys.argv[2], body)


if __name__ == "__main__":
    main()
