#!/usr/bin/env python3
"""Groups the samples of `perf script` output (call graphs) into the cost
categories BENCHMARKS.md talks about. A sample belongs to the first category
whose pattern matches any frame of its stack, so the shares add up to 100 %.

usage: perf script -i perf.data | bench/perf_categories.py
"""

import collections
import re
import sys

CATEGORIES = [
    ("argon2 hashing", r"argon2::"),
    ("JWT verify (Tokens::verify)", r"Tokens::verify"),
    ("JWT sign (Tokens::sign)", r"Tokens::sign"),
    ("SQLite fsync", r"^fsync$|do_fsync"),
    ("SQLite / diesel / r2d2, other", r"sqlite3|diesel::|r2d2::"),
    (
        "access log (formatting and queueing the line; env_logger before)",
        r"drop_in_place<actix_web::middleware::logger::StreamLog|LoggerMiddleware<S> as actix_service::Service"
        r"|env_logger|logger::FormatText|portcullis::logging::",
    ),
    ("header rewriting (to_upstream, to_client, request_id)", r"headers::to_upstream|headers::to_client|headers::request_id"),
    ("awc client in user space (request, pool, response stream)", r"awc::"),
    ("send(2) to client and upstream (kernel; incl. loopback delivery to the peer; libc has no frame pointers, so the caller is unknown)", r"^__send$|__sys_sendto"),
    ("recv(2) from client and upstream", r"__libc_recv|__sys_recvfrom"),
    ("epoll / scheduler park", r"epoll_wait|park_internal|^schedule$|^__schedule$"),
    ("futex (thread hand-offs)", r"futex"),
]
OTHER = "other (actix-http parse/encode, routing, middleware, tokio, …)"
# glibc's malloc (before) and mimalloc's entry points (after)
ALLOC = re.compile(r"malloc|_int_free|cfree|unlink_chunk|__libc_free|realloc|^_?mi_")


def stacks(lines):
    cur = []
    for line in lines:
        s = line.strip()
        if not s:
            if cur:
                yield cur
            cur = []
        elif line[0] in " \t":
            m = re.match(r"[0-9a-f]+ (.*?)(\+0x[0-9a-f]+)? \(", s)
            cur.append(m.group(1) if m else s)
    if cur:
        yield cur


def main():
    compiled = [(name, re.compile(rx)) for name, rx in CATEGORIES]
    counts, alloc, total = collections.Counter(), 0, 0
    for st in stacks(sys.stdin):
        total += 1
        if st and ALLOC.search(st[0]):
            alloc += 1
        for name, rx in compiled:
            if any(rx.search(f) for f in st):
                counts[name] += 1
                break
        else:
            counts[OTHER] += 1
    if not total:
        sys.exit("no samples with call graphs")
    for name in [n for n, _ in CATEGORIES] + [OTHER]:
        if counts[name]:
            print(f"{100 * counts[name] / total:5.1f}%  {name}")
    print(f"({100 * alloc / total:.1f}% of all samples are inside malloc/free, spread over the rows above; {total} samples)")


if __name__ == "__main__":
    main()
