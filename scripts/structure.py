#!/usr/bin/env python3
"""Structure checks the compiler does not make (issue 11), run by scripts/test.sh:

1. no import cycles between the modules of a crate (a module is a file or folder directly
   under src/, or one level deeper: `verify/certificate`), counting `crate::` and `super::`
   paths in `use` lines and inline paths;
2. no function longer than MAX_CORE_LINES lines in crates/shipgate-core (tests excluded).

Prints what it finds; exits 1 if anything is over. `--report` prints the longest functions
of every crate without failing."""
import os, re, sys
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRATES = {"shipgate": "src", "shipgate-core": "crates/shipgate-core/src", "shipgate-lambda": "lambda/src"}
MAX_CORE_LINES = 80

def module_of(rel):
    """`verify/certificate.rs` -> `verify::certificate`; `verify/mod.rs` -> `verify`."""
    parts = rel[:-3].split("/")
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return "::".join(parts)

def is_test(rel, text):
    return rel.endswith("tests.rs") or "/tests/" in rel or rel.endswith("fuzzing.rs")

def strip_tests(text):
    """The text before a `#[cfg(test)] mod tests {` block (the rest is test code)."""
    i = text.find("#[cfg(test)]\nmod tests {")
    return text if i < 0 else text[:i]

def edges(src):
    graph = defaultdict(set)
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), src)
            text = open(os.path.join(dirpath, f)).read()
            if is_test(rel, text):
                continue
            text = strip_tests(text)
            me = module_of(rel)
            # two levels: `verify::certificate`
            me2 = "::".join(me.split("::")[:2])
            for m in re.finditer(r"crate::([a-z_][a-z0-9_]*)(?:::([a-z_][a-z0-9_]*))?", text):
                target = m.group(1)
                sub = m.group(2)
                top_me = me2.split("::")[0]
                if target == top_me and sub:
                    target = f"{target}::{sub}"
                    is_module = os.path.exists(os.path.join(src, m.group(1), sub + ".rs")) or os.path.isdir(os.path.join(src, m.group(1), sub))
                    if target != me2 and is_module:
                        graph[me2].add(target)
                    continue
                if target != top_me and (os.path.exists(os.path.join(src, target + ".rs")) or os.path.isdir(os.path.join(src, target))):
                    graph[top_me].add(target)
            for m in re.finditer(r"super::([a-z_][a-z0-9_]*)", text):
                parent = me2.split("::")[0] if "::" in me2 else None
                if parent and os.path.exists(os.path.join(src, parent, m.group(1) + ".rs")):
                    target = f"{parent}::{m.group(1)}"
                    if target != me2:
                        graph[me2].add(target)
    return graph

def cycles(graph):
    found = []
    def dfs(node, stack, seen):
        for nxt in sorted(graph.get(node, ())):
            if nxt in stack:
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in seen:
                seen.add(nxt)
                dfs(nxt, stack + [nxt], seen)
    for start in sorted(graph):
        dfs(start, [start], {start})
    unique = {}
    for c in found:
        key = frozenset(c)
        unique.setdefault(key, c)
    return list(unique.values())

FN = re.compile(r"^(\s*)(pub(\([^)]*\))? )?(const )?(async )?fn (\w+)")

def long_functions(src):
    out = []
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, src)
            text = open(path).read()
            if is_test(rel, text):
                continue
            lines = strip_tests(text).split("\n")
            i = 0
            while i < len(lines):
                m = FN.match(lines[i])
                if m and not lines[i].rstrip().endswith(";"):
                    indent = m.group(1)
                    j = i + 1
                    while j < len(lines) and lines[j] != indent + "}":
                        j += 1
                    out.append((j - i + 1, f"{rel}:{i + 1} {m.group(6)}"))
                    i = j
                i += 1
    return sorted(out, reverse=True)

def main():
    report = "--report" in sys.argv
    bad = False
    for crate, src in CRATES.items():
        for c in cycles(edges(os.path.join(ROOT, src))):
            print(f"{crate}: import cycle: {' -> '.join(c)}")
            bad = True
    for n, where in long_functions(os.path.join(ROOT, CRATES["shipgate-core"])):
        if n > MAX_CORE_LINES:
            print(f"shipgate-core: {where} is {n} lines (most {MAX_CORE_LINES})")
            bad = True
    if report:
        for crate, src in CRATES.items():
            for n, where in long_functions(os.path.join(ROOT, src))[:5]:
                print(f"{crate}: {n:4} lines {where}")
        return 0
    if not bad:
        print("structure: no import cycles; no core function over", MAX_CORE_LINES, "lines")
    return 1 if bad else 0

sys.exit(main())
