#!/usr/bin/env python3
"""Checks the crate's module graph: no import cycles between modules, and the
layers hold (domain modules import nothing from http, cli, demo, startup,
accounts or actix-web). Reads `use crate::…`/`super::…` paths and
`crate::…` references in src/; exits 1 naming what is wrong."""
import os, re, sys

SRC = os.path.join(os.path.dirname(__file__), "..", "src")
DOMAIN = ("auth", "db", "proxy", "clock")
ABOVE_DOMAIN = ("http", "cli", "demo", "startup", "accounts", "config")


def module_of(path):
    rel = os.path.relpath(path, SRC)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return "::".join(rel)


def strip_comments(text):
    text = re.sub(r"//[^\n]*", "", text)
    # unit tests may reach anywhere
    cut = text.find("#[cfg(test)]")
    return text if cut < 0 else text[:cut]


modules = {}
for root, _, files in os.walk(SRC):
    for f in files:
        if f.endswith(".rs"):
            p = os.path.join(root, f)
            modules[module_of(p)] = strip_comments(open(p).read())

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
    for n in range(len(parts), 0, -1):
        cand = "::".join(parts[:n])
        if cand in names:
            return cand
    return None


edges = {m: set() for m in modules}
problems = []
for mod, text in modules.items():
    for use in re.findall(r"\buse\s+([^;]+);", text):
        heads = re.match(r"((?:\w+::)*\w+)(?:::\{(.*)\})?$", use.replace("\n", " ").replace(" ", ""), re.S)
        if not heads:
            continue
        base, group = heads.group(1), heads.group(2)
        targets = [base] + ([base + "::" + g.split("::{")[0] for g in re.split(r",(?![^{]*\})", group)] if group else [])
        for t in targets:
            r = resolve(mod, t.rstrip(":"))
            if r and r != mod and not r.startswith(mod + "::") and not mod.startswith(r + "::"):
                edges[mod].add(r)
        if mod.split("::")[0] in DOMAIN and base.startswith("actix_web"):
            problems.append(f"{mod} imports actix-web ({use.strip()})")
    for ref in re.findall(r"\bcrate::([\w:]+)", text):
        r = resolve(mod, "crate::" + ref)
        if r and r != mod and not r.startswith(mod + "::") and not mod.startswith(r + "::"):
            edges[mod].add(r)
    if mod.split("::")[0] in DOMAIN and re.search(r"\bactix_web::", text):
        problems.append(f"{mod} uses actix_web")

for mod, targets in edges.items():
    if mod.split("::")[0] in DOMAIN:
        for t in targets:
            if t.split("::")[0] in ABOVE_DOMAIN:
                problems.append(f"layer: {mod} (domain) imports {t}")

# cycles, module by module (a cycle through parent/child is not counted)
def top(m):
    return m

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
print(f"module graph: {len(edges)} modules, {sum(len(v) for v in edges.values())} imports, no cycles, layers hold")
