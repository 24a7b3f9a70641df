#!/usr/bin/env python3
"""bench-report.py: draw a bench result (the JSON of scripts/bench.sh) as one
self-contained HTML page with inline SVG: throughput per client count and
target, latency percentiles per client count, and a latency-over-time strip
for every run, so the tails and the stalls show at a glance.

Usage: scripts/bench-report.py bench/results/bench-STAMP.json [OUT.html]
(OUT defaults to the JSON's path with .html). Only the standard library."""
import html
import json
import math
import sys

TARGETS = {"proposer": ("at the leader", "#1f77b4"), "client": ("through client nodes", "#d62728")}
PCTS = [("p50", "p50", "#2ca02c"), ("p90", "p90", "#1f77b4"), ("p99", "p99", "#ff7f0e"), ("p999", "p99.9", "#d62728")]


def esc(s):
    return html.escape(str(s), quote=True)


def fmt(v):
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def nice_max(v):
    """The smallest 1, 2 or 5 times a power of ten at or above v."""
    if v <= 0:
        return 1
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 5, 10):
        if m * e >= v:
            return m * e
    return 10 * e


class Chart:
    """An SVG plot area with a categorical or numeric x axis and a linear or
    log y axis."""

    def __init__(self, w, h, xs, ymax, ymin=0.0, log=False, left=60, bottom=34, top=14, right=16):
        self.w, self.h, self.xs, self.log = w, h, xs, log
        self.l, self.b, self.t, self.r = left, bottom, top, right
        self.ymin, self.ymax = ymin, ymax
        self.parts = []

    def x(self, i):
        n = len(self.xs)
        return self.l + (self.w - self.l - self.r) * ((i + 0.5) / n)

    def y(self, v):
        if self.log:
            lo, hi = math.log10(self.ymin), math.log10(self.ymax)
            f = (math.log10(max(v, self.ymin)) - lo) / (hi - lo)
        else:
            f = (v - self.ymin) / (self.ymax - self.ymin)
        return self.h - self.b - (self.h - self.b - self.t) * min(max(f, 0), 1)

    def axes(self, xlabel, ylabel):
        p = self.parts
        ticks = []
        if self.log:
            v = self.ymin
            while v <= self.ymax * 1.0001:
                ticks.append(v)
                v *= 10
        else:
            ticks = [self.ymin + (self.ymax - self.ymin) * k / 4 for k in range(5)]
        for v in ticks:
            y = self.y(v)
            p.append(f'<line x1="{self.l}" x2="{self.w - self.r}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
            p.append(f'<text x="{self.l - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{fmt(v)}</text>')
        for i, xv in enumerate(self.xs):
            p.append(f'<text x="{self.x(i):.1f}" y="{self.h - self.b + 16}" text-anchor="middle" font-size="11">{esc(xv)}</text>')
        p.append(f'<text x="{(self.l + self.w - self.r) / 2:.1f}" y="{self.h - 4}" text-anchor="middle" font-size="12">{esc(xlabel)}</text>')
        p.append(f'<text x="14" y="{(self.t + self.h - self.b) / 2:.1f}" text-anchor="middle" font-size="12" '
                 f'transform="rotate(-90 14 {(self.t + self.h - self.b) / 2:.1f})">{esc(ylabel)}</text>')
        p.append(f'<line x1="{self.l}" x2="{self.l}" y1="{self.t}" y2="{self.h - self.b}" stroke="#888"/>')
        p.append(f'<line x1="{self.l}" x2="{self.w - self.r}" y1="{self.h - self.b}" y2="{self.h - self.b}" stroke="#888"/>')

    def line(self, vals, color, label=None, dots=True):
        pts = [(self.x(i), self.y(v)) for i, v in enumerate(vals) if v is not None]
        if len(pts) > 1:
            d = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            self.parts.append(f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="2"/>')
        if dots:
            for (x, y), v in zip(pts, [v for v in vals if v is not None]):
                self.parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"><title>{esc(label or "")}: {fmt(v)}</title></circle>')

    def dot(self, i, v, color, title):
        self.parts.append(f'<circle cx="{self.x(i):.1f}" cy="{self.y(v):.1f}" r="2" fill="{color}" opacity="0.45"><title>{esc(title)}</title></circle>')

    def legend(self, items):
        x, y = self.l + 8, self.t + 2
        for label, color in items:
            self.parts.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{color}"/>')
            self.parts.append(f'<text x="{x + 14}" y="{y + 9}" font-size="11">{esc(label)}</text>')
            y += 15

    def svg(self):
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.w}" height="{self.h}" font-family="sans-serif">' + "".join(self.parts) + "</svg>"


def median(xs):
    s = sorted(xs)
    n = len(s)
    return (s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2) if n else 0


def throughput_chart(groups, ns, targets):
    top = max((r["throughput"] for rs in groups.values() for r in rs), default=1)
    c = Chart(560, 300, [str(n) for n in ns], nice_max(top * 1.05))
    c.axes("clients (closed loop)", "writes/s")
    for t in targets:
        label, color = TARGETS.get(t, (t, "#555"))
        for i, n in enumerate(ns):
            for k, r in enumerate(groups.get((t, n), [])):
                c.dot(i, r["throughput"], color, f"{label}, {n} clients, run {k + 1}: {r['throughput']:,.0f} writes/s")
        c.line([median([r["throughput"] for r in groups[(t, n)]]) if (t, n) in groups else None for n in ns], color, label)
    c.legend([(TARGETS.get(t, (t, ""))[0] + " (median; dots: runs)", TARGETS.get(t, (t, "#555"))[1]) for t in targets])
    return c.svg()


def latency_chart(groups, ns, target):
    vals = [r["latency_ms"][k] for (t, _), rs in groups.items() if t == target for r in rs for k, _, _ in PCTS]
    lo = 10 ** math.floor(math.log10(max(min([v for v in vals if v > 0], default=0.1), 0.01)))
    hi = 10 ** math.ceil(math.log10(max(vals, default=1) * 1.05))
    c = Chart(560, 300, [str(n) for n in ns], hi, ymin=lo, log=True)
    c.axes("clients", "latency, ms (log)")
    for key, label, color in PCTS:
        c.line([median([r["latency_ms"][key] for r in groups[(target, n)]]) if (target, n) in groups else None for n in ns], color, label)
    c.legend([(label, color) for _, label, color in PCTS])
    return c.svg()


def strip(run):
    """One run's timeline: writes per slice as grey bars, p99 and max
    latency per slice as lines (their own scale, on the right)."""
    tl = run.get("timeline") or []
    w, h, l, r, t, b = 580, 90, 66, 50, 8, 18
    if not tl:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="24"><text x="4" y="16" font-size="11">no timeline in this run (paxosctl before timelines)</text></svg>'
    width = run.get("timeline_slice_s") or 0.1
    ops_max = nice_max(max(s["ops"] for s in tl) / width)
    lat_max = nice_max(max(s["max_ms"] for s in tl))
    n = len(tl)
    bw = (w - l - r) / n
    py = lambda v, top: h - b - (h - b - t) * min(v / top, 1)
    parts = [f'<rect x="{l}" y="{t}" width="{w - l - r}" height="{h - b - t}" fill="#fafafa" stroke="#ccc"/>']
    for i, s in enumerate(tl):
        y = py(s["ops"] / width, ops_max)
        parts.append(f'<rect x="{l + i * bw:.1f}" y="{y:.1f}" width="{max(bw - 0.3, 0.3):.1f}" height="{h - b - y:.1f}" fill="#bbb">'
                     f'<title>{s["t_s"]:.1f} s: {s["ops"] / width:,.0f} writes/s, p50 {fmt(s["p50_ms"])} ms, p99 {fmt(s["p99_ms"])} ms, max {fmt(s["max_ms"])} ms</title></rect>')
    for key, color in (("max_ms", "#d62728"), ("p99_ms", "#ff7f0e")):
        d = " ".join(f"{l + (i + 0.5) * bw:.1f},{py(s[key], lat_max):.1f}" for i, s in enumerate(tl) if s["ops"])
        if d:
            parts.append(f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="1.3"/>')
    parts.append(f'<text x="{l - 4}" y="{t + 9}" text-anchor="end" font-size="10">{fmt(ops_max)}/s</text>')
    parts.append(f'<text x="{l - 4}" y="{h - b}" text-anchor="end" font-size="10">0</text>')
    parts.append(f'<text x="{w - r + 4}" y="{t + 9}" font-size="10" fill="#d62728">{fmt(lat_max)} ms</text>')
    parts.append(f'<text x="{w - r + 4}" y="{h - b}" font-size="10" fill="#d62728">0</text>')
    parts.append(f'<text x="{l}" y="{h - 4}" font-size="10">0 s</text>')
    parts.append(f'<text x="{w - r}" y="{h - 4}" text-anchor="end" font-size="10">{n * width:.1f} s</text>')
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif">' + "".join(parts) + "</svg>"


def report(data, title):
    raw = data.get("raw", [])
    groups = {}
    for r in raw:
        groups.setdefault((r["target"].split()[0], r["clients"]), []).append(r)
    ns = sorted({n for _, n in groups})
    targets = [t for t in TARGETS if any(k[0] == t for k in groups)] + sorted({t for t, _ in groups} - set(TARGETS))
    meta = data.get("meta", {})
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>" + esc(title) + "</title><style>"
           "body{font-family:sans-serif;max-width:1180px;margin:24px auto;color:#222}"
           "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
           ".row{display:flex;flex-wrap:wrap;gap:12px}.strip{margin:2px 0}.strip h4{margin:6px 0 0;font-size:12px;font-weight:normal}"
           "</style></head><body>"]
    out.append(f"<h1>{esc(title)}</h1>")
    out.append("<p>" + esc(f"paxosctl bench, closed loop, {meta.get('runs', '?')} runs per cell; machine: "
                           f"{meta.get('cpus', '?')} CPUs, {meta.get('machine', '?')}, kernel {meta.get('kernel', '?')}. "
                           "Leader: writes to the leader proposer; client nodes: writes to the client nodes, which forward them.") + "</p>")
    out.append("<h2>Throughput</h2>" + throughput_chart(groups, ns, targets))
    out.append("<h2>Latency percentiles (medians of the runs)</h2><div class='row'>")
    for t in targets:
        out.append(f"<div><h3>{esc(TARGETS.get(t, (t,))[0])}</h3>{latency_chart(groups, ns, t)}</div>")
    out.append("</div><h2>Medians</h2><table><tr><th>target</th><th>clients</th><th>writes/s</th><th>p50 ms</th>"
               "<th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th><th>failed</th></tr>")
    for t in targets:
        for n in ns:
            rs = groups.get((t, n))
            if not rs:
                continue
            m = lambda k: fmt(median([r["latency_ms"][k] for r in rs]))
            out.append(f"<tr><td>{esc(TARGETS.get(t, (t,))[0])}</td><td>{n}</td><td>{fmt(median([r['throughput'] for r in rs]))}</td>"
                       f"<td>{m('p50')}</td><td>{m('p90')}</td><td>{m('p99')}</td><td>{m('p999')}</td><td>{m('max')}</td>"
                       f"<td>{sum(r.get('failed', 0) for r in rs)}</td></tr>")
    out.append("</table><h2>Every run over time</h2><p>Grey bars: writes/s in each slice (left scale). "
               "Orange: p99 latency, red: max latency in the slice (right scale). A stall is a gap in the bars "
               "with a red peak after it.</p>")
    for t in targets:
        for n in ns:
            for k, r in enumerate(groups.get((t, n), [])):
                head = (f"{TARGETS.get(t, (t,))[0]}, {n} clients, run {k + 1}: {r['throughput']:,.0f} writes/s, "
                        f"p99 {r['latency_ms']['p99']} ms, max {r['latency_ms']['max']} ms")
                out.append(f"<div class='strip'><h4>{esc(head)}</h4>{strip(r)}</div>")
    out.append("</body></html>")
    return "\n".join(out)


def main(argv):
    if len(argv) not in (2, 3) or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 3
    src = argv[1]
    dst = argv[2] if len(argv) == 3 else (src[:-5] if src.endswith(".json") else src) + ".html"
    try:
        with open(src) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        print(f"bench-report.py: cannot read {src}: {e}", file=sys.stderr)
        return 1
    if not data.get("raw"):
        print(f"bench-report.py: {src} has no runs (\"raw\"): is it the JSON of scripts/bench.sh?", file=sys.stderr)
        return 1
    title = "paxos bench " + (src.rsplit("/", 1)[-1][len("bench-"):-len(".json")] if src.rsplit("/", 1)[-1].startswith("bench-") else src)
    with open(dst, "w") as f:
        f.write(report(data, title))
    print(f"bench-report.py: wrote {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
