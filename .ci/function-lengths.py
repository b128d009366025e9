#!/usr/bin/env python3
"""Fails when a function in src/ outside unit tests is longer than 80 lines
(from its `fn` line to its closing brace; doc comments and attributes not
counted). Comments and literals are blanked and `#[cfg(test)]` items
skipped as the import check does (.ci/rust_source.py)."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
from rust_source import blanked, item_end, test_spans  # noqa: E402

LIMIT = 80
SRC = os.path.join(os.path.dirname(__file__), "..", "src")

too_long = []
for root, _, files in os.walk(SRC):
    for f in sorted(files):
        if not f.endswith(".rs"):
            continue
        path = os.path.join(root, f)
        with open(path) as fh:
            text = blanked(fh.read())
        tests = test_spans(text)
        for m in re.finditer(r"\bfn\s+(\w+)", text):
            if any(a <= m.start() < b for a, b in tests):
                continue
            end = item_end(text, m.end())
            if text[end - 1] != "}":
                continue
            lines = text.count("\n", m.start(), end) + 1
            if lines > LIMIT:
                first = text.count("\n", 0, m.start()) + 1
                too_long.append(f"src/{os.path.relpath(path, SRC)}:{first} {m.group(1)}: {lines} lines")

if too_long:
    print(f"functions over {LIMIT} lines:\n" + "\n".join(too_long))
    sys.exit(1)
print(f"every function in src/ outside tests is at most {LIMIT} lines")
