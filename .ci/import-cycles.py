#!/usr/bin/env python3
"""Checks the crate's module graph, reading every file of src/ whole:

- no import cycles between modules;
- the layers hold: domain modules (auth, db, proxy, client_addr, clock)
  import no service or anything above it, and the services (login,
  sessions, accounts, events, metrics, services, jobs) nothing above them;
- neither names a web framework: no actix-web, actix-http or awc;
- no module of http/ imports http/ itself (its children are its parts).

Reads `use crate::…`/`super::…` paths (grouped ones too) and `crate::…`
references. Unit-test code is skipped: every `#[cfg(test)]` item (a
`mod tests { … }` block or a single function) is cut out, brace by brace,
after comments and literals are blanked (.ci/rust_source.py). Exits 1 naming what is
wrong."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
from rust_source import without_tests  # noqa: E402

SRC = os.path.join(os.path.dirname(__file__), "..", "src")
DOMAIN = ("auth", "db", "proxy", "client_addr", "clock")
SERVICES = ("login", "sessions", "factors", "accounts", "oidc", "events", "metrics", "services", "jobs")
ABOVE_SERVICES = ("http", "cli", "demo", "startup", "config")
FRAMEWORKS = ("actix_web", "actix_http", "awc")


def module_of(path):
    rel = os.path.relpath(path, SRC)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return "::".join(rel)


modules = {}
for root, _, files in os.walk(SRC):
    for f in files:
        if f.endswith(".rs"):
            p = os.path.join(root, f)
            with open(p) as fh:
                modules[module_of(p)] = without_tests(fh.read())

names = set(modules)


def resolve(mod, path):
    parts = path.split("::")
    if parts[0] == "crate":
        parts = parts[1:]
    elif parts[0] in ("super", "self"):
        base = mod.split("::") if mod else []
        while parts and parts[0] in ("super", "self"):
            if parts[0] == "super":
                base = base[:-1]
            parts = parts[1:]
        parts = base + parts
    else:
        return None
    # the longest module prefix
    for n in range(len(parts), -1, -1):
        cand = "::".join(parts[:n])
        if cand in names:
            return cand
    return None


def targets_of(use):
    """Every path a `use` names, its groups expanded (nested too)."""
    use = re.sub(r"\s+", "", use)
    m = re.match(r"^(.*?)::\{(.*)\}$", use)
    if not m:
        return [use]
    base, group = m.groups()
    parts, depth, cur = [], 0, ""
    for ch in group:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        cur += ch
    parts.append(cur)
    out = [base]
    for part in filter(None, parts):
        out += targets_of(base + "::" + part)
    return out


def layer(mod):
    head = mod.split("::")[0]
    if head in DOMAIN:
        return "domain"
    if head in SERVICES:
        return "service"
    return None


edges = {m: set() for m in modules}
problems = []
for mod, text in modules.items():
    refs = []
    for use in re.findall(r"\buse\s+([^;]+);", text):
        refs += targets_of(use)
        if layer(mod) and use.strip().split("::")[0] in FRAMEWORKS:
            problems.append(f"{mod} ({layer(mod)}) imports {use.strip()}")
    refs += ["crate::" + r for r in re.findall(r"\bcrate::([\w:]+)", text)]
    for ref in refs:
        r = resolve(mod, ref.split(" as ")[0].rstrip(":"))
        if r is None or r == mod:
            continue
        if mod.startswith(r + "::") or r == "":
            if r == "http":
                problems.append(f"{mod} imports its parent http (move what it needs out of http/mod.rs)")
            continue
        if not r.startswith(mod + "::"):
            edges[mod].add(r)
    if layer(mod):
        for fw in FRAMEWORKS:
            if re.search(rf"\b{fw}::", text):
                problems.append(f"{mod} ({layer(mod)}) names {fw}")

for mod, targets in edges.items():
    for t in targets:
        head = t.split("::")[0]
        if layer(mod) == "domain" and (head in SERVICES or head in ABOVE_SERVICES):
            problems.append(f"layer: {mod} (domain) imports {t}")
        if layer(mod) == "service" and head in ABOVE_SERVICES:
            problems.append(f"layer: {mod} (service) imports {t}")

WHITE, GREY, BLACK = 0, 1, 2
color = {m: WHITE for m in edges}
stack = []


def dfs(m):
    color[m] = GREY
    stack.append(m)
    for t in sorted(edges[m]):
        if color.get(t) == GREY:
            cyc = stack[stack.index(t):] + [t]
            problems.append("cycle: " + " -> ".join(cyc))
        elif color.get(t) == WHITE:
            dfs(t)
    stack.pop()
    color[m] = BLACK


for m in sorted(edges):
    if color[m] == WHITE:
        dfs(m)

if problems:
    print("\n".join(sorted(set(problems))))
    sys.exit(1)
lines = sum(t.count("\n") for t in modules.values())
print(
    f"module graph: {len(edges)} modules ({lines} lines read outside tests), "
    f"{sum(len(v) for v in edges.values())} imports, no cycles, layers hold"
)
