/**
 * A tiny grouped bar chart in SVG for docs/mobile-study: groups along the x
 * axis (the network profiles), one bar per series in each (the protocols),
 * a linear y axis from zero with a few round ticks. No dependency; the text
 * is escaped. Missing values (a protocol not run on a profile) leave a gap.
 */

export interface BarChart {
  readonly title: string;
  readonly unit: string;
  readonly groups: readonly string[];
  readonly series: readonly { readonly name: string; readonly values: readonly (number | undefined)[] }[];
}

const palette = ['#3366cc', '#dc3912', '#ff9900', '#109618', '#990099', '#0099c6'];

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A round step (1, 2 or 5 × 10^k) giving about five ticks up to `max`. */
export function niceStep(max: number): number {
  if (!(max > 0)) return 1;
  const raw = max / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const scaled = raw / power;
  return (scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10) * power;
}

function formatTick(value: number): string {
  return Number.isInteger(value) ? value.toLocaleString('en-US') : value.toPrecision(3);
}

export function barChartSvg(chart: BarChart): string {
  const width = 720;
  const height = 360;
  const left = 70;
  const right = 150;
  const top = 40;
  const bottom = 50;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const values = chart.series.flatMap((series) => series.values.filter((v): v is number => v !== undefined));
  const step = niceStep(Math.max(0, ...values));
  const max = Math.max(step, Math.ceil(Math.max(0, ...values) / step) * step);
  const y = (value: number) => top + plotHeight - (value / max) * plotHeight;
  const groupWidth = plotWidth / Math.max(1, chart.groups.length);
  const barWidth = (groupWidth * 0.8) / Math.max(1, chart.series.length);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(chart.title)}</text>`,
    `<text x="16" y="${top + plotHeight / 2}" transform="rotate(-90 16 ${top + plotHeight / 2})" text-anchor="middle">${escapeXml(chart.unit)}</text>`,
  ];
  for (let tick = 0; tick <= max + step / 2; tick += step) {
    parts.push(
      `<line x1="${left}" x2="${left + plotWidth}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="#dddddd"/>`,
      `<text x="${left - 6}" y="${(y(tick) + 4).toFixed(1)}" text-anchor="end">${formatTick(tick)}</text>`,
    );
  }
  chart.groups.forEach((group, groupIndex) => {
    const groupLeft = left + groupIndex * groupWidth + groupWidth * 0.1;
    chart.series.forEach((series, seriesIndex) => {
      const value = series.values[groupIndex];
      if (value === undefined) return;
      const x = groupLeft + seriesIndex * barWidth;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y(value).toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${(top + plotHeight - y(value)).toFixed(1)}" fill="${palette[seriesIndex % palette.length]}"><title>${escapeXml(`${series.name}, ${group}: ${formatTick(value)} ${chart.unit}`)}</title></rect>`,
      );
    });
    parts.push(
      `<text x="${(left + groupIndex * groupWidth + groupWidth / 2).toFixed(1)}" y="${top + plotHeight + 20}" text-anchor="middle">${escapeXml(group)}</text>`,
    );
  });
  parts.push(
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotHeight}" stroke="#333333"/>`,
    `<line x1="${left}" x2="${left + plotWidth}" y1="${top + plotHeight}" y2="${top + plotHeight}" stroke="#333333"/>`,
  );
  chart.series.forEach((series, index) => {
    const legendY = top + 10 + index * 20;
    parts.push(
      `<rect x="${left + plotWidth + 20}" y="${legendY - 10}" width="12" height="12" fill="${palette[index % palette.length]}"/>`,
      `<text x="${left + plotWidth + 38}" y="${legendY}">${escapeXml(series.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
