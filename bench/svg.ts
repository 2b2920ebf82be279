import { percentile } from './pipeline';

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

interface Series {
  name: string;
  color: string;
  values: readonly number[];
}

/**
 * Hand-rendered SVG of latency distributions: a histogram on a logarithmic latency axis
 * (share of requests per bucket) for ingest and end-to-end delivery, with p50/p95/p99 marks.
 */
export function latencySvg(input: { ingest: readonly number[]; endToEnd: readonly number[]; title: string }): string {
  const series: Series[] = [
    { name: 'ingest (POST → 202)', color: '#1f77b4', values: input.ingest },
    { name: 'end-to-end (POST → delivered)', color: '#d62728', values: input.endToEnd },
  ];
  const width = 860;
  const height = 420;
  const m = { left: 60, right: 20, top: 50, bottom: 90 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const all = series.flatMap((s) => s.values).filter((v) => v > 0);
  const lo = Math.max(0.1, Math.min(...all, 1));
  const hi = Math.max(...all, lo * 10);
  const minExp = Math.floor(Math.log10(lo));
  const maxExp = Math.ceil(Math.log10(hi));
  const bucketsPerDecade = 10;
  const buckets = (maxExp - minExp) * bucketsPerDecade;
  const x = (ms: number) => m.left + ((Math.log10(Math.max(ms, 10 ** minExp)) - minExp) / (maxExp - minExp)) * plotW;
  const histograms = series.map((s) => {
    const counts = new Array<number>(buckets).fill(0);
    for (const v of s.values) {
      const i = Math.min(buckets - 1, Math.max(0, Math.floor((Math.log10(Math.max(v, 10 ** minExp)) - minExp) * bucketsPerDecade)));
      counts[i]! += 1;
    }
    return counts.map((c) => (s.values.length ? (100 * c) / s.values.length : 0));
  });
  const yMax = Math.max(5, Math.ceil(Math.max(...histograms.flat()) / 5) * 5);
  const y = (share: number) => m.top + plotH - (share / yMax) * plotH;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(input.title)}</text>`);
  // Grid and axes.
  for (let e = minExp; e <= maxExp; e++) {
    for (const k of e < maxExp ? [1, 2, 5] : [1]) {
      const v = k * 10 ** e;
      const gx = x(v).toFixed(1);
      parts.push(`<line x1="${gx}" y1="${m.top}" x2="${gx}" y2="${m.top + plotH}" stroke="${k === 1 ? '#ccc' : '#eee'}"/>`);
      const label = v >= 1000 ? `${v / 1000} s` : `${v} ms`;
      parts.push(`<text x="${gx}" y="${m.top + plotH + 16}" text-anchor="middle" fill="#444">${label}</text>`);
    }
  }
  for (let s = 0; s <= yMax; s += yMax / 5) {
    parts.push(`<line x1="${m.left}" y1="${y(s).toFixed(1)}" x2="${m.left + plotW}" y2="${y(s).toFixed(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${m.left - 6}" y="${(y(s) + 4).toFixed(1)}" text-anchor="end" fill="#444">${s}%</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`);
  parts.push(`<text x="${m.left + plotW / 2}" y="${m.top + plotH + 36}" text-anchor="middle">latency (log scale)</text>`);
  parts.push(`<text transform="translate(16 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">share of messages per bucket</text>`);
  // Histograms as step lines.
  histograms.forEach((shares, index) => {
    const s = series[index]!;
    let d = `M ${m.left} ${y(0).toFixed(1)}`;
    shares.forEach((share, i) => {
      const x0 = m.left + (i / buckets) * plotW;
      const x1 = m.left + ((i + 1) / buckets) * plotW;
      d += ` L ${x0.toFixed(1)} ${y(share).toFixed(1)} L ${x1.toFixed(1)} ${y(share).toFixed(1)}`;
    });
    d += ` L ${m.left + plotW} ${y(0).toFixed(1)}`;
    parts.push(`<path d="${d}" fill="${s.color}" fill-opacity="0.15" stroke="${s.color}" stroke-width="1.5"/>`);
    // Percentile marks.
    for (const p of [50, 95, 99]) {
      const v = percentile(s.values, p);
      if (!(v > 0)) continue;
      const px = x(v).toFixed(1);
      parts.push(`<line x1="${px}" y1="${m.top}" x2="${px}" y2="${m.top + plotH}" stroke="${s.color}" stroke-dasharray="4 3"/>`);
      parts.push(`<text x="${px}" y="${m.top - 4 - index * 12}" text-anchor="middle" fill="${s.color}" font-size="10">p${p}</text>`);
    }
    const legendY = m.top + plotH + 58 + index * 16;
    const stats = [50, 95, 99].map((p) => `p${p} ${percentile(s.values, p).toFixed(1)} ms`).join(', ');
    parts.push(`<rect x="${m.left}" y="${legendY - 10}" width="12" height="12" fill="${s.color}" fill-opacity="0.5" stroke="${s.color}"/>`);
    parts.push(`<text x="${m.left + 18}" y="${legendY}">${escapeXml(`${s.name}: ${s.values.length} samples; ${stats}`)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
