#!/usr/bin/env python3
"""Print Google Benchmark JSON files from mimic_bench as one Markdown table.

Usage: bench_table.py [--filter REGEX] LABEL=FILE.json [LABEL=FILE.json ...]
Each file becomes a group of columns (GFLOP/s, peak fraction, speed vs oneDNN and OpenBLAS,
the last two measured in the same run); rows are the benchmark names, in the first file's
order. Only the Python standard library is used.
"""
import argparse
import json
import re
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    rows = {}
    for b in doc.get("benchmarks", []):
        if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
            continue
        # Without the thread count, so that 1- and 2-thread files line up as column groups.
        rows[re.sub(r"/threads:\d+", "", b["name"].replace("/real_time", ""))] = b
    return rows


def cell(b, key, fmt):
    if b is None or key not in b:
        return ""
    value = b[key]
    if key == "GFLOP/s" or key == "GB/s":
        value = value / 1e9 if value > 1e6 else value  # rates are stored per second
    return fmt.format(value)


def print_table(prog, doc, columns):
    """The command line of a table script: LABEL=FILE.json arguments and --filter; each file
    becomes the group of `columns`, (header, function of the row's JSON -> cell text); the
    first header gets the label in front."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--filter", default="", help="only rows whose name matches this regex")
    ap.add_argument("runs", nargs="+", help="LABEL=FILE.json")
    args = ap.parse_args()
    runs = []
    for spec in args.runs:
        label, sep, path = spec.partition("=")
        if not sep:
            sys.exit(f"{prog}: expected LABEL=FILE.json, got {spec!r}")
        runs.append((label, load(path)))
    names = [n for n in runs[0][1] if re.search(args.filter, n)]
    head = ["benchmark"]
    for label, _ in runs:
        head += [f"{label} {columns[0][0]}"] + [h for h, _ in columns[1:]]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for n in names:
        line = [n]
        for _, rows in runs:
            line += [f(rows.get(n)) for _, f in columns]
        print("| " + " | ".join(line) + " |")


def main():
    print_table("bench_table", __doc__, [
        ("GFLOP/s", lambda b: cell(b, "GFLOP/s", "{:.1f}")),
        ("peak", lambda b: cell(b, "peak_frac", "{:.2f}")),
        ("vs oneDNN", lambda b: cell(b, "vs_onednn", "{:.2f}×")),
        ("vs OpenBLAS", lambda b: cell(b, "vs_openblas", "{:.2f}×")),
    ])


if __name__ == "__main__":
    main()
