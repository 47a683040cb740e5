#!/usr/bin/env python3
"""The regression gate (tools/compare.py) on synthetic Google Benchmark JSON: a noise-only
difference passes, a ratio drop beyond the tolerance or any growth of max_rel_err fails and is
named, a re-run that recovers passes, bad input is refused with a message."""
import json
import os
import subprocess
import sys
import tempfile

COMPARE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "compare.py")
ROWS = ["sgemm/mimic/NN/1024x1024x1024/isa:avx2/threads:1",
        "softmax/mimic/4096x1000/isa:avx2/threads:1",
        "l2_loss/mimic/4096x1000/isa:avx2/threads:1",
        "conv/mimic/teacher2/fwd/isa:avx2/threads:1"]


def run_doc(scale_time=1.0, ratio=None, err=None):
    """One run: every row with a time, a same-run ratio and an accuracy counter."""
    ratio, err = ratio or {}, err or {}
    benches = [{"name": "sgemm/onednn/NN/1024x1024x1024/threads:1/real_time",
                "run_type": "iteration", "real_time": 20000.0 * scale_time, "time_unit": "us"}]
    for i, name in enumerate(ROWS):
        b = {"name": name + "/real_time", "run_type": "iteration", "iterations": 10,
             "real_time": 1000.0 * (i + 1) * scale_time, "cpu_time": 1000.0 * (i + 1),
             "time_unit": "us", "max_rel_err": err.get(name, 1e-7)}
        key = "frac_copy" if name.startswith("l2_loss") else "vs_onednn"
        b[key] = ratio.get(name, 0.9)
        benches.append(b)
    return {"context": {"git_commit": "test"}, "benchmarks": benches}


def compare(tmp, *docs, extra=()):
    paths = []
    for i, d in enumerate(docs):
        p = os.path.join(tmp, f"run{i}.json")
        with open(p, "w", encoding="utf-8") as f:
            f.write(d if isinstance(d, str) else json.dumps(d))
        paths.append(p)
    r = subprocess.run([sys.executable, COMPARE, "--no-table", *extra, *paths],
                       capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def expect(cond, what, out):
    if not cond:
        print(f"FAIL: {what}\n{out}")
        sys.exit(1)
    print(f"ok: {what}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        base = run_doc()
        # Noise: the machine was 40 % slower overall, the ratios moved by 2-4 %.
        noisy = run_doc(1.4, {ROWS[0]: 0.88, ROWS[1]: 0.87, ROWS[2]: 0.93, ROWS[3]: 0.92})
        rc, out = compare(tmp, base, noisy)
        expect(rc == 0 and "gate: pass" in out, "noise only passes", out)
        expect("4 rows checked" in out, "every mimic row is gated", out)

        slow = run_doc(1.0, {ROWS[1]: 0.80})  # softmax ratio -11 %
        rc, out = compare(tmp, base, slow)
        expect(rc == 1 and f"REGRESSION speed    {ROWS[1]}" in out, "ratio drop fails", out)
        expect(out.count("REGRESSION") == 1, "only the slower row is listed", out)

        rc, out = compare(tmp, base, slow, extra=("--speed-filter", "^sgemm/"))
        expect(rc == 0, "--speed-filter leaves other rows' speed alone", out)
        rc, out = compare(tmp, base, run_doc(0.8, {ROWS[1]: 0.7}, {ROWS[1]: 2e-7}),
                          extra=("--speed-filter", "^sgemm/"))
        expect(rc == 1 and f"REGRESSION accuracy {ROWS[1]}" in out
               and "REGRESSION speed" not in out, "... but still gates their accuracy", out)

        low = run_doc(1.0, {ROWS[1]: 0.82})  # a second baseline run, slower on that row
        rc, out = compare(tmp, base, slow, extra=("--also-baseline", os.path.join(tmp, "low.json")))
        expect(rc == 2, "a missing --also-baseline file is an input error", out)
        with open(os.path.join(tmp, "low.json"), "w", encoding="utf-8") as f:
            json.dump(low, f)
        rc, out = compare(tmp, base, slow, extra=("--also-baseline", os.path.join(tmp, "low.json")))
        expect(rc == 0, "--also-baseline: the lowest baseline ratio is the reference", out)

        slow_copy = run_doc(1.0, {ROWS[2]: 0.80})  # frac_copy when there is no vs_onednn
        rc, out = compare(tmp, base, slow_copy)
        expect(rc == 1 and ROWS[2] in out and "frac_copy" in out, "frac_copy drop fails", out)

        rc, out = compare(tmp, base, slow, extra=("--tolerance", "0.2"))
        expect(rc == 0, "a wider tolerance lets an 11 % drop pass", out)

        worse = run_doc(1.0, err={ROWS[3]: 1.5e-7})
        rc, out = compare(tmp, base, worse)
        expect(rc == 1 and f"REGRESSION accuracy {ROWS[3]}" in out, "error growth fails", out)
        better = run_doc(1.0, err={ROWS[3]: 0.5e-7})
        rc, out = compare(tmp, base, better)
        expect(rc == 0, "error shrinking passes", out)

        retry = os.path.join(tmp, "retry.txt")
        rc, out = compare(tmp, base, slow, extra=("--retry-filter", retry))
        with open(retry, encoding="utf-8") as f:
            regex = f.read()
        expect(rc == 1 and "softmax/mimic/4096x1000/isa:avx2/threads:1" in regex
               and "sgemm" not in regex, "the retry filter names the slow row only", regex)
        rc, out = compare(tmp, base, slow, noisy)
        expect(rc == 0, "a re-run within tolerance clears a slow row", out)
        rc, out = compare(tmp, base, worse, base)
        expect(rc == 1, "... but never an accuracy regression of the first run", out)

        missing = run_doc()
        missing["benchmarks"] = missing["benchmarks"][:2]
        rc, out = compare(tmp, base, missing)
        expect(rc == 0 and "not in the contender" in out, "absent rows are reported, not gated",
               out)

        rc, out = compare(tmp, base, "{not json")
        expect(rc == 2 and "not JSON" in out and "Traceback" not in out, "bad JSON: message", out)
        rc, out = compare(tmp, base, {"context": {}})
        expect(rc == 2 and "no 'benchmarks'" in out, "wrong JSON: message", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
