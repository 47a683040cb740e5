#!/usr/bin/env python3
"""Render every result under results/ as one self-contained HTML page (inline SVG, no network).

Usage: dashboard.py [--results DIR] [--out FILE]

Per architecture and CPU model (results/<arch>/<cpu>/): the same-run ratio to oneDNN of each
kernel family over the runs, a roofline of the latest run (arithmetic intensity vs GFLOP/s
under the measured FMA peak and copy bandwidth), every mimic row's GFLOP/s (or GB/s) and ratio
over the runs, and the trainer's accuracy and throughput from distill-*.json files beside them.
Only the standard library is used.
"""
import argparse
import glob
import html
import json
import math
import os
import re
import sys

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
          "#17becf", "#7f7f7f", "#bcbd22"]
ROW_RE = re.compile(r"^(?P<base>.*?)(?:/isa:(?P<isa>[a-z0-9]+))?/threads:(?P<threads>\d+)$")
FAMILIES = [("sgemm", ("sgemm", "sgemm_relu")), ("convolution", ("conv",)),
            ("softmax and losses", ("softmax", "log_softmax", "ce_loss", "l2_loss", "kd_loss"))]
E = html.escape


class InputError(Exception):
    pass


# ------------------------------------------------------------------ reading

def read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read JSON ({e})")


def parse_row(name, bench, context):
    name = name.replace("/real_time", "")
    m = ROW_RE.match(name)
    if m:
        return m["base"], m["isa"], int(m["threads"])
    return name, bench.get("label") or context.get("mimic_isa"), context.get("mimic_threads")


def load_run(path, doc):
    ctx = doc.get("context", {})
    rows = {}
    for b in doc.get("benchmarks", []):
        if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
            continue
        base, isa, threads = parse_row(b["name"], b, ctx)
        rows[(base, isa, threads)] = b
    commit = ctx.get("git_commit") or os.path.basename(path).rsplit(".", 1)[0]
    return {"path": path, "date": ctx.get("date", ""), "commit": commit,
            "profile": ctx.get("profile", "full"), "context": ctx, "rows": rows,
            "label": f"{commit} {ctx.get('date', '')[:10]} {ctx.get('profile', '')}".strip()}


def collect(root):
    """{(arch, cpu): {"runs": [...], "trainer": [...]}} from every JSON under root."""
    groups = {}
    for path in sorted(glob.glob(os.path.join(root, "**", "*.json"), recursive=True)):
        rel = os.path.relpath(path, root).split(os.sep)
        key = (rel[0], rel[1]) if len(rel) >= 3 else ("any", "any")
        doc = read_json(path)
        g = groups.setdefault(key, {"runs": [], "trainer": []})
        if os.path.basename(path).startswith("distill-"):
            if isinstance(doc, dict) and isinstance(doc.get("models"), list):
                g["trainer"].append((path, doc))
        elif isinstance(doc, dict) and isinstance(doc.get("benchmarks"), list):
            run = load_run(path, doc)
            if run["rows"]:
                g["runs"].append(run)
    for g in groups.values():
        g["runs"].sort(key=lambda r: (r["date"], r["path"]))
    return groups


# ------------------------------------------------------------------ SVG charts

def fmt(v):
    if v is None:
        return "-"
    if v == 0 or 0.01 <= abs(v) < 1e6:
        return f"{v:.3g}"
    return f"{v:.2e}"


def ticks(lo, hi, log):
    if log:
        return [10.0 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]
    step = 10 ** math.floor(math.log10((hi - lo) or 1.0))
    for mult in (1, 2, 5, 10):
        if (hi - lo) / (step * mult) <= 6:
            step *= mult
            break
    first = math.floor(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 2)]


class Plot:
    """An SVG plot area with linear or log axes; points are drawn as class="pt" circles."""

    def __init__(self, title, xs, ys, w=560, h=300, logx=False, logy=False, xlabel="",
                 ylabel=""):
        self.w, self.h, self.logx, self.logy = w, h, logx, logy
        self.l, self.r, self.t, self.b = 64, 200, 28, 46
        xs = [x for x in xs if x is not None and (x > 0 or not logx)] or [1.0]
        ys = [y for y in ys if y is not None and (y > 0 or not logy)] or [1.0]
        self.xt = ticks(min(xs), max(xs), logx)
        self.yt = ticks(0.0 if not logy and min(ys) >= 0 else min(ys), max(ys), logy)
        self.x0, self.x1 = self.xt[0], self.xt[-1]
        self.y0, self.y1 = self.yt[0], self.yt[-1]
        if self.x1 == self.x0:
            self.x1 = self.x0 + 1
        if self.y1 == self.y0:
            self.y1 = self.y0 + 1
        self.parts = [f'<text x="{w / 2}" y="16" class="title">{E(title)}</text>']
        self.legend = []
        self.xlabel, self.ylabel = xlabel, ylabel

    def px(self, x):
        f = (math.log10(x) - math.log10(self.x0)) / (math.log10(self.x1) - math.log10(self.x0)) \
            if self.logx else (x - self.x0) / (self.x1 - self.x0)
        return self.l + f * (self.w - self.l - self.r)

    def py(self, y):
        f = (math.log10(y) - math.log10(self.y0)) / (math.log10(self.y1) - math.log10(self.y0)) \
            if self.logy else (y - self.y0) / (self.y1 - self.y0)
        return self.h - self.b - f * (self.h - self.t - self.b)

    def axes(self, xnames=None):
        p, l, b = self.parts, self.l, self.h - self.b
        for y in self.yt:
            p.append(f'<line x1="{l}" x2="{self.w - self.r}" y1="{self.py(y):.1f}" '
                     f'y2="{self.py(y):.1f}" class="grid"/><text x="{l - 4}" '
                     f'y="{self.py(y) + 4:.1f}" class="yt">{fmt(y)}</text>')
        if xnames is None:
            for x in self.xt:
                p.append(f'<text x="{self.px(x):.1f}" y="{b + 16}" class="xt">{fmt(x)}</text>')
        p.append(f'<line x1="{l}" x2="{self.w - self.r}" y1="{b}" y2="{b}" class="axis"/>')
        p.append(f'<line x1="{l}" x2="{l}" y1="{self.t}" y2="{b}" class="axis"/>')
        p.append(f'<text x="{(l + self.w - self.r) / 2}" y="{self.h - 6}" class="xl">'
                 f'{E(self.xlabel)}</text>')
        p.append(f'<text transform="translate(14 {(self.t + b) / 2}) rotate(-90)" class="xl">'
                 f'{E(self.ylabel)}</text>')

    def series(self, name, color, pts, line=True, tips=None):
        coords = [(self.px(x), self.py(y)) for x, y in pts]
        if line and len(coords) > 1:
            d = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            self.parts.append(f'<polyline points="{d}" fill="none" stroke="{color}" '
                              f'stroke-width="1.5"/>')
        for i, (x, y) in enumerate(coords):
            tip = tips[i] if tips else f"{name}: {fmt(pts[i][1])}"
            self.parts.append(f'<circle class="pt" cx="{x:.1f}" cy="{y:.1f}" r="3.5" '
                              f'fill="{color}"><title>{E(tip)}</title></circle>')
        self.legend.append((name, color, False))

    def line(self, name, color, pts):
        d = " ".join(f"{self.px(x):.1f},{self.py(y):.1f}" for x, y in pts)
        self.parts.append(f'<polyline points="{d}" fill="none" stroke="{color}" '
                          f'stroke-width="2" stroke-dasharray="6 3"/>')
        self.legend.append((name, color, True))

    def svg(self):
        x = self.w - self.r + 10
        for i, (name, color, dashed) in enumerate(self.legend):
            y = self.t + 14 * i + 6
            dash = ' stroke-dasharray="4 2"' if dashed else ""
            self.parts.append(f'<line x1="{x}" x2="{x + 14}" y1="{y}" y2="{y}" stroke="{color}" '
                              f'stroke-width="3"{dash}/><text x="{x + 18}" y="{y + 4}" '
                              f'class="lg">{E(name if len(name) <= 30 else name[:29] + "…")}'
                              f'<title>{E(name)}</title></text>')
        return (f'<svg class="chart" width="{self.w}" height="{self.h}" '
                f'viewBox="0 0 {self.w} {self.h}" xmlns="http://www.w3.org/2000/svg">'
                + "".join(self.parts) + "</svg>")


def sparkline(values, w=120, h=26):
    pts = [(i, v) for i, v in enumerate(values) if v is not None]
    if not pts:
        return ""
    lo, hi = min(v for _, v in pts), max(v for _, v in pts)
    span, n = (hi - lo) or 1.0, max(len(values) - 1, 1)
    xy = [(3 + i * (w - 6) / n, h - 4 - (v - lo) / span * (h - 8)) for i, v in pts]
    d = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    dots = "".join(f'<circle class="pt" cx="{x:.1f}" cy="{y:.1f}" r="2"><title>{fmt(v)}'
                   f'</title></circle>' for (x, y), (_, v) in zip(xy, pts))
    return (f'<svg class="spark" width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">'
            f'<polyline points="{d}" fill="none" stroke="#1f77b4"/>{dots}</svg>')


# ------------------------------------------------------------------ sections

def family_of(base):
    head = base.split("/", 1)[0]
    for fam, heads in FAMILIES:
        if head in heads:
            return fam
    return None


def is_kernel(key):
    parts = key[0].split("/")
    return len(parts) > 1 and parts[1] == "mimic" and family_of(key[0]) is not None


def geomean(vals):
    vals = [v for v in vals if v and v > 0]
    return math.exp(sum(map(math.log, vals)) / len(vals)) if vals else None


def trend_chart(runs):
    """Geometric mean of vs_onednn per family and configuration over the rows every run has."""
    common = set.intersection(*(set(k for k in r["rows"] if is_kernel(k)) for r in runs))
    common = {k for k in common if all("vs_onednn" in r["rows"][k] for r in runs)}
    configs = sorted({(family_of(k[0]), k[1], k[2]) for k in common},
                     key=lambda c: ([f for f, _ in FAMILIES].index(c[0]), str(c[1]), c[2]))
    series, ys = [], []
    for fam, isa, threads in configs:
        keys = [k for k in common if (family_of(k[0]), k[1], k[2]) == (fam, isa, threads)]
        vals = [geomean([r["rows"][k]["vs_onednn"] for k in keys]) for r in runs]
        series.append((f"{fam.split()[0]} {isa} {threads}T", vals, len(keys)))
        ys += vals
    if not series:
        return "<p>No kernel row is in every run yet.</p>"
    p = Plot("speed vs oneDNN (same run), geometric mean per family", range(len(runs)),
             ys + [1.0], ylabel="mimic / oneDNN speed", xlabel="run (oldest to newest)")
    p.axes(xnames=[r["label"] for r in runs])
    for i, r in enumerate(runs):
        p.parts.append(f'<text x="{p.px(i):.1f}" y="{p.h - p.b + 16}" class="xt">'
                       f'{E(r["commit"][:10])}</text>')
    for i, (name, vals, n) in enumerate(series):
        p.series(name, COLORS[i % len(COLORS)], [(j, v) for j, v in enumerate(vals)],
                 tips=[f"{name}: {fmt(v)} over {n} rows, run {r['label']}"
                       for v, r in zip(vals, runs)])
    return p.svg() + (f'<p class="note">Over the {len(common)} kernel rows present in every run '
                      f'(lines: family, ISA, threads). Above 1: mimic faster.</p>')


def roofline_chart(run):
    rows = run["rows"]
    threads = sorted({k[2] for k in rows if isinstance(k[2], int)})
    pts, xs, ys = {}, [], []
    for key, b in rows.items():
        if is_kernel(key) and "flop_per_byte" in b and "GFLOP/s" in b and b["GFLOP/s"] > 0:
            pts.setdefault((key[1], key[2]), []).append((b["flop_per_byte"], b["GFLOP/s"], key[0]))
            xs.append(b["flop_per_byte"])
            ys.append(b["GFLOP/s"])
    if not pts:
        return "<p>No row with an arithmetic intensity in the latest run.</p>"
    roofs = []
    for t in threads:
        peaks = {k[0].split("/")[-1]: b.get("GFLOP/s") for k, b in rows.items()
                 if k[0].startswith("roof/fma/") and k[2] == t}
        bw = next((b.get("GB/s") for k, b in rows.items() if k[0] == "roof/copy" and k[2] == t),
                  None)
        for isa, peak in sorted(peaks.items()):
            if peak and bw:
                roofs.append((f"roof {isa} {t}T", peak, bw))
                ys.append(peak)
    xs += [min(xs) / 4, max(xs) * 2]
    p = Plot(f"roofline, run {run['label']}", xs, ys + [min(ys) / 2], logx=True, logy=True,
             xlabel="arithmetic intensity (FLOP per byte of compulsory traffic)",
             ylabel="GFLOP/s", w=700, h=340)
    p.axes()
    for i, (name, peak, bw) in enumerate(roofs):
        knee = peak / bw
        line = [(p.x0, max(bw * p.x0, p.y0)), (knee, peak), (p.x1, peak)]
        if knee <= p.x0:
            line = [(p.x0, peak), (p.x1, peak)]
        p.line(f"{name} ({fmt(peak)} GF/s, {fmt(bw)} GB/s)", COLORS[(i + 5) % len(COLORS)],
               [(x, min(y, peak)) for x, y in line])
    for i, ((isa, t), ps) in enumerate(sorted(pts.items(), key=lambda kv: (kv[0][1], str(kv[0][0])))):
        p.series(f"mimic {isa} {t}T", COLORS[i % len(COLORS)], [(x, y) for x, y, _ in ps],
                 line=False, tips=[f"{n} {isa} {t}T: {fmt(y)} GFLOP/s at {fmt(x)} FLOP/B"
                                   for x, y, n in ps])
    return p.svg() + ('<p class="note">sgemm and convolution rows; dashed: the FMA roof and '
                      'memcpy bandwidth measured in the same run (roof/fma, roof/copy).</p>')


def rows_table(runs):
    keys = [k for k in runs[-1]["rows"] if is_kernel(k)]
    out = []
    for fam, _ in FAMILIES:
        fam_keys = [k for k in keys if family_of(k[0]) == fam]
        if not fam_keys:
            continue
        out.append(f"<details{' open' if fam == 'sgemm' else ''}><summary>{E(fam)}: "
                   f"{len(fam_keys)} rows of the latest run</summary><table><tr><th>row</th>"
                   "<th>ISA</th><th>threads</th><th>speed</th><th>over runs</th>"
                   "<th>vs oneDNN</th><th>over runs</th><th>max_rel_err</th></tr>")
        for k in fam_keys:
            b = runs[-1]["rows"][k]
            unit = "GFLOP/s" if "GFLOP/s" in b else "GB/s"
            speed = [r["rows"].get(k, {}).get(unit) for r in runs]
            ratio = [r["rows"].get(k, {}).get("vs_onednn") for r in runs]
            out.append(f"<tr><td>{E(k[0])}</td><td>{E(str(k[1]))}</td><td>{k[2]}</td>"
                       f"<td>{fmt(b.get(unit))} {unit}</td><td>{sparkline(speed)}</td>"
                       f"<td>{fmt(b.get('vs_onednn'))}</td><td>{sparkline(ratio)}</td>"
                       f"<td>{fmt(b.get('max_rel_err'))}</td></tr>")
        out.append("</table></details>")
    return "".join(out)


def trainer_section(files):
    if not files:
        return "<p>No trainer results (distill-*.json) for this machine yet.</p>"
    out = []
    for path, doc in files:
        models = [m for m in doc["models"] if isinstance(m, dict)]
        table = [f"<table><tr><th>model</th><th>loss</th>"
                 "<th>parameters</th><th>test accuracy</th><th>train s</th>"
                 "<th>inference images/s</th></tr>"]
        for m in models:
            table.append(f"<tr><td>{E(str(m.get('name')))}</td><td>{E(str(m.get('loss')))}</td>"
                         f"<td>{m.get('params', '-')}</td><td>{fmt(m.get('test_accuracy'))}</td>"
                         f"<td>{fmt(m.get('train_seconds'))}</td>"
                         f"<td>{fmt(m.get('infer_images_per_s'))}</td></tr>")
        table.append("</table>")
        out.append(f'<h4>{E(os.path.basename(path))}</h4><div class="row">')
        curves = [(m.get("name", "?"), [e.get("test_accuracy") for e in m.get("epochs", [])
                                        if isinstance(e, dict)]) for m in models]
        curves = [(n, [(i + 1, a) for i, a in enumerate(c) if isinstance(a, (int, float))])
                  for n, c in curves]
        curves = [(n, c) for n, c in curves if c]
        if curves:
            p = Plot("test accuracy per epoch", [x for _, c in curves for x, _ in c],
                     [y for _, c in curves for _, y in c], xlabel="epoch",
                     ylabel="test accuracy", w=560, h=300)
            p.axes()
            for i, (n, c) in enumerate(curves):
                p.series(str(n), COLORS[i % len(COLORS)], c)
            out.append(p.svg())
        speed = [(m.get("name", "?"), m.get("infer_images_per_s")) for m in models
                 if isinstance(m.get("infer_images_per_s"), (int, float))]
        if speed:
            p = Plot("inference throughput", range(len(speed)), [s for _, s in speed] + [0.0],
                     xlabel="model", ylabel="images/s", w=560, h=300)
            p.axes(xnames=[])
            for i, (n, s) in enumerate(speed):
                p.series(str(n), COLORS[i % len(COLORS)], [(i, s)], line=False,
                         tips=[f"{n}: {fmt(s)} images/s"])
            out.append(p.svg())
        out.append("</div>" + "".join(table))
    return "".join(out)


def group_section(key, g):
    arch, cpu = key
    out = [f'<section><h2>{E(arch)} / {E(cpu)}</h2>']
    runs = g["runs"]
    if runs:
        ctx = runs[-1]["context"]
        out.append(f'<p class="note">{len(runs)} runs. Latest: {E(runs[-1]["label"])}; '
                   f'{E(ctx.get("cpu_model", "?"))}; {E(ctx.get("hwloc_topology", ""))}; '
                   f'{E(ctx.get("compiler", ""))}; ISAs {E(ctx.get("mimic_isas", "?"))}, '
                   f'threads {E(str(ctx.get("threads", "?")))}.</p>')
        full = [r for r in runs if r["profile"] == "full"] or runs
        out.append('<div class="row"><div>' + trend_chart(runs) + '</div><div>' +
                   roofline_chart(full[-1]) + "</div></div>")
    out.append("<h3>Trainer</h3>" + trainer_section(g["trainer"]))
    if runs:
        out.append("<h3>Kernel rows</h3>" + rows_table(runs))
    return "".join(out) + "</section>"


STYLE = """body{font:14px sans-serif;margin:20px;color:#222}h2{border-bottom:1px solid #ccc}
svg.chart{background:#fafafa;border:1px solid #ddd;margin:4px}.title{font-weight:bold;
text-anchor:middle}.grid{stroke:#e4e4e4}.axis{stroke:#444}.yt{text-anchor:end;font-size:11px}
.xt{text-anchor:middle;font-size:11px}.xl{text-anchor:middle;font-size:12px}.lg{font-size:11px}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:2px 6px;
font-size:12px}.row{display:flex;flex-wrap:wrap;gap:8px}.row>div{max-width:720px}.note{color:#555;font-size:12px}summary{cursor:pointer;margin:6px 0}"""

# Counts each chart's points once the page is parsed; the browser test reads the attributes.
SCRIPT = """document.addEventListener('DOMContentLoaded', function () {
  var charts = document.querySelectorAll('svg.chart'), total = 0;
  charts.forEach(function (c) {
    var n = c.querySelectorAll('.pt').length; c.setAttribute('data-points', n); total += n; });
  document.body.setAttribute('data-charts', charts.length);
  document.body.setAttribute('data-points', total);
  console.log('dashboard: ' + charts.length + ' charts, ' + total + ' points');
});"""


def render(groups, root):
    body = "".join(group_section(k, g) for k, g in sorted(groups.items()))
    if not groups:
        body = f"<p>No results under {E(root)}.</p>"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>mimic benchmarks'
            f'</title><style>{STYLE}</style><script>{SCRIPT}</script></head><body>'
            f'<h1>mimic benchmarks</h1><p class="note">Generated by tools/dashboard.py from '
            f'{E(root)}. Hover a point for its value.</p>{body}</body></html>\n')


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results", help="folder to read (default results)")
    ap.add_argument("--out", default="build/dashboard.html", help="page to write")
    args = ap.parse_args()
    if not os.path.isdir(args.results):
        print(f"dashboard: {args.results}: no such folder", file=sys.stderr)
        return 2
    try:
        page = render(collect(args.results), args.results)
    except InputError as e:
        print(f"dashboard: {e}", file=sys.stderr)
        return 2
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(tmp, args.out)
    print(f"dashboard: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
