// The bench's chart as a self-contained SVG (no dependency). Top row: the capacity curves of bare
// and Leadflow on one plot each, processed rate against the offered rate (the diagonal is "keeps
// up") and p99 latency against the offered rate (the knee's 250 ms dashed). Bottom row: the
// hand-off latency percentiles at the sustained target rate, and processed rates as ratios of
// the matched baselines (targets dashed).

export interface LatencySeries {
  label: string;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface RatioBar {
  label: string;
  value: number;
}

/** One step of a capacity curve. */
export interface CurvePoint {
  offered: number;
  processed: number;
  p99Ms: number;
}

export interface CurveSeries {
  label: string;
  points: CurvePoint[];
}

export interface ChartInput {
  title: string;
  subtitle: string;
  latency: LatencySeries[];
  /** Dashed line on the latency panel (ms), e.g. the p99 target. */
  latencyTargetMs?: number;
  /** Heading of the latency panel. */
  latencyTitle?: string;
  ratios: RatioBar[];
  /** Dashed line on the ratio panel, e.g. 0.85. */
  ratioTarget?: number;
  /** Capacity curves (bare and Leadflow), drawn when given. */
  curves?: CurveSeries[];
  /** The knee's p99 limit, dashed on the latency curve plot. */
  curveP99LimitMs?: number;
}

const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948'];

const escapeXml = (text: string): string => text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);

/** A "nice" axis maximum: 1, 2 or 5 times a power of ten, at least `value`. */
export function niceMax(value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

const finite = (v: number) => (Number.isFinite(v) ? v : 0);

type Parts = string[];
const textOf = (parts: Parts) => (x: number, y: number, body: string, attrs = '') => parts.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${escapeXml(body)}</text>`);

/** A line plot of `value(point)` against the offered rate, one polyline per series. */
function curvePlot(parts: Parts, box: { x: number; y: number; w: number; h: number }, curves: CurveSeries[], value: (p: CurvePoint) => number, yLabel: string, options: { diagonal?: boolean; limit?: number; cap?: number }): void {
  const text = textOf(parts);
  const all = curves.flatMap((c) => c.points);
  const xMax = niceMax(Math.max(1, ...all.map((p) => finite(p.offered))));
  const values = all.map(value).filter(Number.isFinite);
  const yMax = niceMax(Math.max(options.diagonal ? xMax : 0, options.limit ? options.limit * 1.2 : 0, ...values.map((v) => Math.min(v, options.cap ?? v))));
  const X = (v: number) => box.x + (finite(v) / xMax) * box.w;
  const Y = (v: number) => box.y + box.h - (Math.min(finite(v), yMax) / yMax) * box.h;
  for (let i = 0; i <= 4; i++) {
    const v = (yMax / 4) * i;
    parts.push(`<line x1="${box.x}" x2="${box.x + box.w}" y1="${Y(v).toFixed(1)}" y2="${Y(v).toFixed(1)}" stroke="#e5e5e5"/>`);
    text(box.x - 6, Y(v) + 4, `${Math.round(v)}`, 'font-size="11" text-anchor="end" fill="#555"');
    const xv = (xMax / 4) * i;
    text(X(xv), box.y + box.h + 14, `${Math.round(xv)}`, 'font-size="11" text-anchor="middle" fill="#555"');
  }
  text(box.x + box.w / 2, box.y + box.h + 30, 'offered events/s (measured)', 'font-size="12" text-anchor="middle"');
  text(box.x + box.w / 2, box.y - 8, yLabel, 'font-size="12" text-anchor="middle"');
  if (options.diagonal) parts.push(`<line x1="${X(0)}" y1="${Y(0)}" x2="${X(xMax).toFixed(1)}" y2="${Y(xMax).toFixed(1)}" stroke="#bbb" stroke-dasharray="3 3"/>`);
  if (options.limit !== undefined) {
    const y = Y(options.limit);
    parts.push(`<line x1="${box.x}" x2="${box.x + box.w}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#d62728" stroke-dasharray="6 4"/>`);
    text(box.x + box.w - 4, y - 4, `knee: p99 < ${options.limit} ms`, 'font-size="11" text-anchor="end" fill="#d62728"');
  }
  curves.forEach((c, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = c.points.map((p) => `${X(p.offered).toFixed(1)},${Y(value(p)).toFixed(1)}`);
    if (pts.length > 1) parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
    c.points.forEach((p) => {
      const v = value(p);
      parts.push(`<circle cx="${X(p.offered).toFixed(1)}" cy="${Y(v).toFixed(1)}" r="3.5" fill="${color}"><title>${escapeXml(`${c.label} at ${p.offered}/s: ${Number.isFinite(v) ? v : 'not measured'}`)}</title></circle>`);
    });
    parts.push(`<rect x="${box.x + 10}" y="${box.y + 8 + i * 16}" width="10" height="10" fill="${color}"/>`);
    text(box.x + 26, box.y + 17 + i * 16, c.label, 'font-size="11"');
  });
}

export function renderChart(input: ChartInput): string {
  const width = 960;
  const curvesRow = input.curves?.length ? 300 : 0;
  const height = 420 + curvesRow;
  const parts: Parts = [];
  const text = textOf(parts);

  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  text(20, 28, input.title, 'font-size="18" font-weight="bold"');
  text(20, 48, input.subtitle, 'font-size="12" fill="#555"');

  if (input.curves?.length) {
    const box = { y: 90, w: 380, h: 170 };
    curvePlot(parts, { ...box, x: 70 }, input.curves, (p) => p.processed, 'processed events/s', { diagonal: true });
    curvePlot(parts, { ...box, x: 550 }, input.curves, (p) => p.p99Ms, 'p99 latency ms (bare: signal processed; Leadflow: hand-off)', {
      ...(input.curveP99LimitMs !== undefined ? { limit: input.curveP99LimitMs } : {}),
      cap: 5000,
    });
  }

  const top = 70 + curvesRow;
  const bottom = 90;
  const plotH = 420 - 70 - bottom;

  // Left panel: latency percentiles, grouped by percentile, one bar per series.
  const left = { x: 70, w: 520 };
  const metrics = ['p50', 'p95', 'p99', 'max'] as const;
  const latencyMax = niceMax(Math.max(input.latencyTargetMs ?? 0, ...input.latency.flatMap((s) => metrics.map((m) => finite(s[m])))));
  const yL = (v: number) => top + plotH - (finite(v) / latencyMax) * plotH;
  for (let i = 0; i <= 5; i++) {
    const v = (latencyMax / 5) * i;
    parts.push(`<line x1="${left.x}" x2="${left.x + left.w}" y1="${yL(v).toFixed(1)}" y2="${yL(v).toFixed(1)}" stroke="#e5e5e5"/>`);
    text(left.x - 6, yL(v) + 4, `${Math.round(v)}`, 'font-size="11" text-anchor="end" fill="#555"');
  }
  if (input.latencyTitle) text(left.x + left.w / 2, top - 8, input.latencyTitle, 'font-size="12" text-anchor="middle"');
  text(18, top + plotH / 2, 'hand-off latency (ms)', `font-size="12" transform="rotate(-90 18 ${top + plotH / 2})" text-anchor="middle"`);
  const groupW = left.w / metrics.length;
  const series = Math.max(1, input.latency.length);
  const barW = Math.min(28, (groupW - 16) / series);
  metrics.forEach((metric, g) => {
    const gx = left.x + g * groupW + (groupW - barW * series) / 2;
    input.latency.forEach((s, i) => {
      const v = finite(s[metric]);
      const y = yL(Math.min(v, latencyMax));
      parts.push(`<rect x="${(gx + i * barW).toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + plotH - y).toFixed(1)}" fill="${COLORS[i % COLORS.length]}"><title>${escapeXml(`${s.label} ${metric}: ${v} ms`)}</title></rect>`);
      text(gx + i * barW + (barW - 2) / 2, y - 3, `${Math.round(v)}`, 'font-size="9" text-anchor="middle" fill="#333"');
    });
    text(left.x + g * groupW + groupW / 2, top + plotH + 16, metric, 'font-size="12" text-anchor="middle"');
  });
  if (input.latencyTargetMs !== undefined) {
    const y = yL(input.latencyTargetMs);
    parts.push(`<line x1="${left.x}" x2="${left.x + left.w}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#d62728" stroke-dasharray="6 4"/>`);
    text(left.x + left.w - 4, y - 4, `target p99 < ${input.latencyTargetMs} ms`, 'font-size="11" text-anchor="end" fill="#d62728"');
  }
  input.latency.forEach((s, i) => {
    const lx = left.x + (i % 2) * 260;
    const ly = top + plotH + 36 + Math.floor(i / 2) * 18;
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`);
    text(lx + 18, ly, s.label, 'font-size="12"');
  });

  // Right panel: processed rates as ratios of the matched baselines.
  const right = { x: 660, w: 270 };
  const ratioMax = Math.max(1, niceMax(Math.max(input.ratioTarget ?? 0, ...input.ratios.map((r) => finite(r.value)))));
  const yR = (v: number) => top + plotH - (finite(v) / ratioMax) * plotH;
  for (let i = 0; i <= 4; i++) {
    const v = (ratioMax / 4) * i;
    parts.push(`<line x1="${right.x}" x2="${right.x + right.w}" y1="${yR(v).toFixed(1)}" y2="${yR(v).toFixed(1)}" stroke="#e5e5e5"/>`);
    text(right.x - 6, yR(v) + 4, v.toFixed(2), 'font-size="11" text-anchor="end" fill="#555"');
  }
  text(right.x + right.w / 2, top - 8, 'processed / matched baseline', 'font-size="12" text-anchor="middle"');
  const slot = right.w / Math.max(1, input.ratios.length);
  input.ratios.forEach((r, i) => {
    const v = finite(r.value);
    const y = yR(Math.min(v, ratioMax));
    const x = right.x + i * slot + slot * 0.2;
    parts.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(slot * 0.6).toFixed(1)}" height="${(top + plotH - y).toFixed(1)}" fill="${COLORS[(i + 4) % COLORS.length]}"><title>${escapeXml(`${r.label}: ${v}`)}</title></rect>`);
    text(x + slot * 0.3, y - 3, v.toFixed(2), 'font-size="10" text-anchor="middle"');
    r.label.split('\n').forEach((line, j) => text(right.x + i * slot + slot / 2, top + plotH + 16 + j * 13, line, 'font-size="10" text-anchor="middle"'));
  });
  if (input.ratioTarget !== undefined) {
    const y = yR(input.ratioTarget);
    parts.push(`<line x1="${right.x}" x2="${right.x + right.w}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#d62728" stroke-dasharray="6 4"/>`);
    text(right.x + right.w - 2, y - 4, `target ≥ ${input.ratioTarget}`, 'font-size="11" text-anchor="end" fill="#d62728"');
  }

  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">\n${parts.join('\n')}\n</svg>\n`;
}
