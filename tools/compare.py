#!/usr/bin/env python3
"""Compare mimic_bench runs and gate regressions: compare.py BASELINE.json CONTENDER.json [...]

Prints Google Benchmark's own comparison table (compare.py from libbenchmark-tools, with its
U-test where the runs have repetitions), then the gate, which survives noisy machines: for each
mimic row it compares a ratio measured within the same run -- vs_onednn (speed against oneDNN),
else frac_copy (against memcpy of the same bytes), else peak_frac (against the FMA roof) --
with the baseline's. A drop beyond --tolerance (default 5 %) is a regression. Accuracy is gated
too: any growth of a row's max_rel_err fails. With several contenders (re-runs of the same
code) a row's speed passes if any of them passes; its accuracy must pass in all. Exit status: 0 pass, 1 regression,
2 bad input. Only the standard library is used; the table needs /usr/bin/python3 with
python3-scipy (Debian), which this script calls.
"""
import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys

GBENCH_COMPARE = "/usr/share/benchmark/compare.py"
RATIOS = ("vs_onednn", "frac_copy", "peak_frac")
ERR = "max_rel_err"
ERR_SLACK = 1e-9  # relative: the JSON prints doubles in full, this only absorbs rounding


class InputError(Exception):
    pass


def load(path):
    """Rows of one Google Benchmark JSON file: name -> list of iteration entries."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise InputError(f"{path}: {e.strerror}")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not JSON ({e})")
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise InputError(f"{path}: not Google Benchmark JSON (no 'benchmarks' list)")
    rows = {}
    for b in doc["benchmarks"]:
        if not isinstance(b, dict) or "name" not in b:
            raise InputError(f"{path}: a benchmark entry without a name")
        if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
            continue
        rows.setdefault(b["name"].replace("/real_time", ""), []).append(b)
    if not rows:
        raise InputError(f"{path}: no benchmark rows")
    return doc.get("context", {}), rows


def ratio(entries):
    """(counter, median over repetitions) of the first same-run ratio the row carries."""
    for key in RATIOS:
        vals = sorted(float(b[key]) for b in entries if isinstance(b.get(key), (int, float)))
        if vals and vals[len(vals) // 2] > 0:
            return key, vals[len(vals) // 2]
    return None, None


def max_err(entries):
    vals = [float(b[ERR]) for b in entries if isinstance(b.get(ERR), (int, float))]
    return max(vals) if vals else None


def gate(base, contenders, tolerance, pattern, speed_pattern=""):
    """Returns (speed regressions, accuracy regressions, checked count, missing names)."""
    slow, worse, missing, checked = [], [], [], 0
    for name, entries in base.items():
        if pattern and not re.search(pattern, name):
            continue
        key, b_ratio = ratio(entries)
        if speed_pattern and not re.search(speed_pattern, name):
            key = None  # accuracy only
        b_err = max_err(entries)
        if key is None and b_err is None:
            continue
        present = [c[name] for c in contenders if name in c]
        if not present:
            missing.append(name)
            continue
        checked += 1
        if key is not None:
            news = [r for k, r in (ratio(e) for e in present) if k == key]
            best = max(news) if news else None
            if best is None or best < b_ratio * (1.0 - tolerance):
                slow.append((name, key, b_ratio, best))
        if b_err is not None:
            errs = [e for e in (max_err(p) for p in present) if e is not None]
            new = max(errs) if errs else None  # deterministic: any run's growth counts
            if new is None or math.isnan(new) or new > b_err * (1.0 + ERR_SLACK):
                worse.append((name, b_err, new))
    return slow, worse, checked, missing


def gbench_table(baseline, contender):
    """Google Benchmark's compare.py table, or a note saying why there is none."""
    python = "/usr/bin/python3"
    if not (os.path.exists(GBENCH_COMPARE) and os.path.exists(python)):
        return "compare: no Google Benchmark compare.py (apt-get install libbenchmark-tools)\n"
    r = subprocess.run([python, GBENCH_COMPARE, "--no-color", "benchmarks", baseline, contender],
                       capture_output=True, text=True)
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["unknown error"])[-1]
        return f"compare: Google Benchmark's compare.py failed ({last}); need python3-scipy\n"
    return r.stdout


def fmt(x):
    return "-" if x is None else f"{x:.4g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("baseline")
    ap.add_argument("contenders", nargs="+", metavar="contender")
    ap.add_argument("--tolerance", type=float, default=0.05,
                    help="largest allowed drop of a same-run ratio (default 0.05 = 5%%)")
    ap.add_argument("--filter", default="", help="gate only rows whose name matches this regex")
    ap.add_argument("--speed-filter", default="",
                    help="gate the speed of these rows only (regex); accuracy stays on every row")
    ap.add_argument("--also-baseline", action="append", default=[], metavar="FILE",
                    help="more runs of the baseline: a row's speed is compared with the lowest "
                         "ratio among all of them (noise in one baseline run cannot fail it)")
    ap.add_argument("--no-table", action="store_true", help="skip Google Benchmark's table")
    ap.add_argument("--retry-filter", metavar="FILE",
                    help="write a --benchmark_filter regex of the slow rows to FILE (for a re-run)")
    args = ap.parse_args()
    if not 0.0 <= args.tolerance < 1.0:
        ap.error("--tolerance must be in [0, 1)")
    for opt in ("filter", "speed_filter"):
        try:
            re.compile(getattr(args, opt))
        except re.error as e:
            ap.error(f"--{opt.replace('_', '-')}: {e}")
    try:
        _, base = load(args.baseline)
        contenders = [load(p)[1] for p in args.contenders]
        for extra in (load(p)[1] for p in args.also_baseline):
            for name, entries in base.items():
                key, r = ratio(entries)
                k2, r2 = ratio(extra.get(name, []))
                if key is not None and k2 == key and r2 < r:
                    base[name] = [{**e, key: r2} for e in entries]
    except InputError as e:
        print(f"compare: {e}", file=sys.stderr)
        return 2

    if not args.no_table:
        sys.stdout.write(gbench_table(args.baseline, args.contenders[0]))
        print()
    slow, worse, checked, missing = gate(base, contenders, args.tolerance, args.filter,
                                         args.speed_filter)
    print(f"gate: {checked} rows checked against {args.baseline} "
          f"(same-run ratio may drop {args.tolerance:.0%}"
          f"{', rows matching ' + args.speed_filter if args.speed_filter else ''}; "
          "max_rel_err may not grow)")
    if missing:
        print(f"gate: {len(missing)} baseline rows not in the contender (not gated), "
              f"e.g. {missing[0]}")
    for name, key, b, n in slow:
        change = "" if n is None else f" ({n / b - 1:+.1%})"
        print(f"REGRESSION speed    {name}: {key} {fmt(b)} -> {fmt(n)}{change}")
    for name, b, n in worse:
        print(f"REGRESSION accuracy {name}: max_rel_err {fmt(b)} -> {fmt(n)}")
    if args.retry_filter:
        names = sorted({re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", n) for n, *_ in slow})
        with open(args.retry_filter, "w", encoding="utf-8") as f:
            f.write("^(" + "|".join(names) + ")(/|$)\n" if names else "")
    if slow or worse:
        print(f"gate: FAIL: {len(slow)} slower, {len(worse)} less accurate")
        return 1
    if checked == 0:
        print("gate: FAIL: no row in common to check")
        return 1
    print("gate: pass")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `compare.py ... | head` ends quietly
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
