#!/usr/bin/env python3
"""Summarises benchmark rounds: the median of every figure over the rounds, our
ratio to the reference column, Markdown tables, and an SVG chart.

Usage: summarize.py [--ours=ours] [--ref=C] [--columns=ours,C,native]
                    [--svg=FILE] ROUND.tsv [ROUND.tsv ...]

Each file is one round; each line "column<TAB>row<TAB>unit<TAB>value" (what
fuse_bench --tsv and tools/bench.sh write). Units:
  ops/s, MB/s, entries/s     a rate (higher is better), with p50_us/p99_us lines
  s, KiB, n, %               a cost (lower is better)
  KiB:NAME, n:NAME           one process's share of the row's total
  error                      the row failed in that round (value: the message)
  n/a                        the column cannot run the row (value: why), e.g. a daemon
                             that offers fewer request queues than the row uses
A row named "BASE on N queues" is also set beside BASE (the same load on one
queue) for the --ours column. Prints the tables on stdout. Exit 2 on malformed
input.
"""

import argparse
import math
import re
import statistics
import sys
from xml.sax.saxutils import escape

RATES = ("ops/s", "MB/s", "entries/s")
NOT_FIGURES = ("p50_us", "p99_us", "error", "n/a")
SEVERAL_QUEUES = re.compile(r"^(.*) on (\d+) queues$")


def read_rounds(paths):
    """Returns {(column, row, unit): [value per round]} and the rows in order."""
    figures = {}
    rows = []
    for path in paths:
        with open(path) as f:
            for number, line in enumerate(f, 1):
                line = line.rstrip("\n")
                if not line:
                    continue
                parts = line.split("\t")
                if len(parts) != 4:
                    sys.exit(f"summarize.py: {path}:{number}: not 4 tab-separated fields")
                column, row, unit, value = parts
                if unit not in ("error", "n/a"):
                    try:
                        value = float(value)
                    except ValueError:
                        sys.exit(f"summarize.py: {path}:{number}: not a number: {value!r}")
                figures.setdefault((column, row, unit), []).append(value)
                if row not in rows:
                    rows.append(row)
    return figures, rows


def median(values):
    return statistics.median(values) if values else None


def fmt(value):
    """A figure with about three significant digits, thousands separated."""
    if value is None:
        return "-"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def ratio(ours, ref):
    if ours is None or ref is None or ref == 0:
        return None
    return ours / ref


class Summary:
    def __init__(self, figures, rows, columns, ours, ref):
        self.figures = figures
        self.rows = rows
        self.columns = columns
        self.ours = ours
        self.ref = ref

    def values(self, column, row, unit):
        return self.figures.get((column, row, unit), [])

    def main_unit(self, row):
        """The unit of the row's main figure (not a part, latency or error)."""
        for (column, r, unit) in self.figures:
            if r == row and unit not in NOT_FIGURES and ":" not in unit:
                return unit
        return None

    def cell(self, column, row, unit):
        """The median over the rounds, and how many rounds failed."""
        good = self.values(column, row, unit)
        failed = len(self.values(column, row, "error"))
        return median(good), failed

    def text(self, column, row, unit, parts=False):
        value, failed = self.cell(column, row, unit)
        if value is None:
            if failed:
                return "error"
            return "n/a" if self.values(column, row, "n/a") else "-"
        text = fmt(value)
        if parts:
            names = [u.split(":", 1)[1] for (c, r, u) in self.figures
                     if c == column and r == row and u.startswith(unit + ":")]
            if len(names) > 1:
                text += " (" + " + ".join(
                    f"{n} {fmt(median(self.values(column, row, unit + ':' + n)))}"
                    for n in names) + ")"
        if failed:
            text += f" [error in {failed} round{'s' if failed > 1 else ''}]"
        return text

    def ratio_text(self, row, unit):
        r = ratio(self.cell(self.ours, row, unit)[0], self.cell(self.ref, row, unit)[0])
        return "-" if r is None else f"{r:.2f}"

    def table(self, rows, unit_of, parts=False):
        head = ["row", "unit"] + self.columns + [f"{self.ours} / {self.ref}"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in rows:
            unit = unit_of(row)
            cells = [row, unit] + [self.text(c, row, unit, parts) for c in self.columns]
            cells.append(self.ratio_text(row, unit))
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def latency_table(self, rows):
        head = ["row (us)"] + [f"{c} p50 / p99" for c in self.columns]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in rows:
            cells = [row]
            for c in self.columns:
                p50 = median(self.values(c, row, "p50_us"))
                p99 = median(self.values(c, row, "p99_us"))
                cells.append("-" if p50 is None else f"{fmt(p50)} / {fmt(p99)}")
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def queue_rows(self):
        """(row on several queues, the same row on one, queue count) for --ours."""
        rows = []
        for row in self.rate_rows():
            match = SEVERAL_QUEUES.match(row)
            if match and match.group(1) in self.rows:
                rows.append((row, match.group(1), int(match.group(2))))
        return rows

    def queue_table(self, queue_rows):
        head = ["row", "unit", "one queue", "several", "several / one"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row, base, queues in queue_rows:
            unit = self.main_unit(row)
            r = ratio(self.cell(self.ours, row, unit)[0], self.cell(self.ours, base, unit)[0])
            lines.append("| " + " | ".join([
                f"{base} -> {queues} queues", unit, self.text(self.ours, base, unit),
                self.text(self.ours, row, unit), "-" if r is None else f"{r:.2f}"]) + " |")
        return "\n".join(lines)

    def rate_rows(self):
        return [r for r in self.rows if self.main_unit(r) in RATES]

    def cost_rows(self):
        return [r for r in self.rows
                if self.main_unit(r) is not None and self.main_unit(r) not in RATES]

    def markdown(self, rounds):
        out = []
        rate_rows = self.rate_rows()
        if rate_rows:
            out.append(f"Throughput, median of {rounds} round{'s' if rounds > 1 else ''} "
                       f"(higher is better; `{self.ours} / {self.ref}` above 1 means we are "
                       "faster):\n")
            out.append(self.table(rate_rows, self.main_unit))
            out.append("\nTime a request is in flight, posted to reply (median of the rounds' "
                       "p50 and p99; CREATE+RELEASE+UNLINK: one whole cycle):\n")
            out.append(self.latency_table(rate_rows))
        queue_rows = self.queue_rows()
        if queue_rows:
            out.append(f"\nRequest queues: `{self.ours}` with the same requests in flight on "
                       "one queue and spread over several (`several / one` above 1 means the "
                       "queues help):\n")
            out.append(self.queue_table(queue_rows))
        cost_rows = self.cost_rows()
        if cost_rows:
            out.append(f"\nCosts, median of the rounds (lower is better; `{self.ours} / "
                       f"{self.ref}` below 1 means we use less; per process in brackets):\n")
            out.append(self.table(cost_rows, self.main_unit, parts=True))
        errors = sorted({(c, r, str(v)) for (c, r, u), vs in self.figures.items()
                         if u == "error" for v in vs})
        if errors:
            out.append("\nErrors:\n")
            out.extend(f"- {c}, {r}: {m}" for c, r, m in errors)
        not_run = {}  # (column, why) -> rows
        for (c, r, u), vs in self.figures.items():
            for v in vs if u == "n/a" else []:
                rows = not_run.setdefault((c, str(v)), [])
                if r not in rows:
                    rows.append(r)
        if not_run:
            out.append("\nNot applicable (n/a):\n")
            out.extend(f"- {c}: {m} ({', '.join(rs)})" for (c, m), rs in sorted(not_run.items()))
        return "\n".join(out) + "\n"

    def svg(self):
        """Horizontal bars, log scale: each rate row's columns relative to the reference."""
        rows = self.rate_rows()
        others = [c for c in self.columns if c != self.ref]
        bars = []  # (row, column, ratio or None)
        for row in rows:
            unit = self.main_unit(row)
            ref = self.cell(self.ref, row, unit)[0]
            for c in others:
                bars.append((row, c, ratio(self.cell(c, row, unit)[0], ref)))
        known = [r for (_, _, r) in bars if r]
        low = 2.0 ** math.floor(math.log2(min(known + [0.5])))
        high = 2.0 ** math.ceil(math.log2(max(known + [2.0])))
        colors = ["#d95f02", "#1b9e77", "#7570b3", "#e7298a"]
        left, width, bar, gap = 210, 520, 12, 10
        group = bar * len(others) + gap
        top = 50
        height = top + group * len(rows) + 50
        total_width = left + width + 30

        def x(value):
            return left + width * (math.log2(value) - math.log2(low)) / (
                math.log2(high) - math.log2(low))

        svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_width}" '
               f'height="{height}" font-family="sans-serif" font-size="11">',
               f'<rect width="{total_width}" height="{height}" fill="white"/>',
               f'<text x="{left}" y="18" font-size="13">Throughput relative to '
               f'{escape(self.ref)} (log scale; 1 = {escape(self.ref)})</text>']
        for i, c in enumerate(others):
            lx = left + i * 140
            svg.append(f'<rect x="{lx}" y="26" width="10" height="10" '
                       f'fill="{colors[i % len(colors)]}"/>')
            svg.append(f'<text x="{lx + 14}" y="35">{escape(c)}</text>')
        tick = low
        while tick <= high * 1.0001:
            tx = x(tick)
            label = f"{tick:g}" if tick >= 1 else f"1/{1 / tick:g}"
            svg.append(f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" '
                       f'y2="{height - 40}" stroke="{"#000" if tick == 1 else "#ddd"}"/>')
            svg.append(f'<text x="{tx:.1f}" y="{height - 26}" '
                       f'text-anchor="middle">{label}</text>')
            tick *= 2
        for i, row in enumerate(rows):
            y0 = top + i * group
            svg.append(f'<text x="{left - 6}" y="{y0 + bar * len(others) / 2 + 4:.1f}" '
                       f'text-anchor="end">{escape(row)}</text>')
            for j, c in enumerate(others):
                r = next(v for (rr, cc, v) in bars if rr == row and cc == c)
                y = y0 + j * bar
                if r is None:
                    svg.append(f'<text x="{x(1) + 4:.1f}" y="{y + bar - 2}" '
                               f'fill="#999">n/a</text>')
                    continue
                x0, x1 = sorted((x(1), x(r)))
                svg.append(f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 1):.1f}" '
                           f'height="{bar - 2}" fill="{colors[j % len(colors)]}">'
                           f'<title>{escape(c)} {escape(row)}: {r:.2f}</title></rect>')
        svg.append("</svg>")
        return "\n".join(svg) + "\n"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ours", default="ours")
    parser.add_argument("--ref", default="C")
    parser.add_argument("--columns", default="",
                        help="column order (default: as first seen)")
    parser.add_argument("--svg")
    parser.add_argument("rounds", nargs="+")
    args = parser.parse_args(argv)
    figures, rows = read_rounds(args.rounds)
    seen = []
    for (column, _, _) in figures:
        if column not in seen:
            seen.append(column)
    order = [c for c in args.columns.split(",") if c in seen] if args.columns else []
    columns = order + [c for c in seen if c not in order]
    summary = Summary(figures, rows, columns, args.ours, args.ref)
    sys.stdout.write(summary.markdown(len(args.rounds)))
    if args.svg:
        with open(args.svg, "w") as f:
            f.write(summary.svg())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
