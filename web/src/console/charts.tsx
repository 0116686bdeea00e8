import type { JSX } from 'preact';
import { useId } from 'preact/hooks';
import { Notice } from '../ui/components.tsx';
import { formatTime } from '../ui/format.ts';
import { consoleApi, type MetricsAnswer, type MetricsPoint } from './api.ts';
import { LoadedView, Panel, RefreshButton, useLoad } from './parts.tsx';

/** The charts follow the backend's scrapes. */
const refreshMs = 5_000;

/** The drawing's own coordinates; CSS scales it to the card's width. */
const view = { width: 480, height: 210, left: 62, right: 10, top: 14, bottom: 34 } as const;

export interface ChartSeries {
  readonly label: string;
  /** A class of console.css giving the line's colour (console-series-1 … 3). */
  readonly className: string;
  readonly values: readonly (number | undefined)[];
}

function clockTime(iso: string): string {
  return new Date(iso).toLocaleTimeString(undefined, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hour12: false,
  });
}

/** A "nice" top of the scale: 1, 2 or 5 times a power of ten, at or above `value`. */
function scaleTop(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/**
 * A small line chart drawn as SVG (no chart library): one polyline per
 * series with a circle at each point, the scale's top and zero, and the
 * first and last times. Gaps (undefined) break the line.
 */
export function LineChart(props: {
  readonly title: string;
  readonly description: string;
  readonly times: readonly string[];
  readonly series: readonly ChartSeries[];
  readonly format: (value: number) => string;
}): JSX.Element {
  const titleId = useId();
  const descriptionId = useId();
  const all = props.series.flatMap((series) =>
    series.values.filter((value): value is number => value !== undefined),
  );
  const top = scaleTop(Math.max(0, ...all));
  const times = props.times.map((time) => new Date(time).getTime());
  const first = times[0] ?? 0;
  const span = Math.max(1, (times[times.length - 1] ?? first) - first);
  const plotWidth = view.width - view.left - view.right;
  const plotHeight = view.height - view.top - view.bottom;
  const x = (index: number) => view.left + (((times[index] ?? first) - first) / span) * plotWidth;
  const y = (value: number) => view.top + plotHeight - (Math.min(value, top) / top) * plotHeight;
  return (
    <figure class="console-chart">
      <svg
        viewBox={`0 0 ${view.width} ${view.height}`}
        role="img"
        aria-labelledby={`${titleId} ${descriptionId}`}
        class="console-chart-svg"
      >
        <title id={titleId}>{props.title}</title>
        <desc id={descriptionId}>{props.description}</desc>
        <line class="console-axis" x1={view.left} y1={view.top} x2={view.left} y2={view.top + plotHeight} />
        <line
          class="console-axis"
          x1={view.left}
          y1={view.top + plotHeight}
          x2={view.left + plotWidth}
          y2={view.top + plotHeight}
        />
        <line
          class="console-grid-line"
          x1={view.left}
          y1={view.top}
          x2={view.left + plotWidth}
          y2={view.top}
        />
        <text class="console-axis-label" x={view.left - 6} y={view.top + 6} text-anchor="end">
          {props.format(top)}
        </text>
        <text class="console-axis-label" x={view.left - 6} y={view.top + plotHeight} text-anchor="end">
          {props.format(0)}
        </text>
        {props.times.length === 0 ? null : (
          <>
            <text class="console-axis-label" x={view.left} y={view.height - 6} text-anchor="start">
              {clockTime(props.times[0] ?? '')}
            </text>
            <text class="console-axis-label" x={view.left + plotWidth} y={view.height - 6} text-anchor="end">
              {clockTime(props.times[props.times.length - 1] ?? '')}
            </text>
          </>
        )}
        {props.series.map((series) => {
          const segments: string[][] = [[]];
          series.values.forEach((value, index) => {
            if (value === undefined) segments.push([]);
            else segments[segments.length - 1]?.push(`${x(index).toFixed(1)},${y(value).toFixed(1)}`);
          });
          return (
            <g key={series.label} class={`console-series ${series.className}`} data-series={series.label}>
              {segments
                .filter((segment) => segment.length > 1)
                .map((segment) => (
                  <polyline key={segment[0]} points={segment.join(' ')} />
                ))}
              {series.values.map((value, index) =>
                value === undefined ? null : (
                  <circle key={props.times[index]} cx={x(index).toFixed(1)} cy={y(value).toFixed(1)} r="3">
                    <title>
                      {series.label} {props.format(value)} at {clockTime(props.times[index] ?? '')}
                    </title>
                  </circle>
                ),
              )}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <ul class="console-legend">
          {props.series.map((series) => (
            <li key={series.label}>
              <span class={`console-swatch ${series.className}`} aria-hidden="true" />
              {series.label}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}

const perSecond = (value: number) => (value >= 10 ? value.toFixed(0) : value.toFixed(value >= 1 ? 1 : 2));
const seconds = (value: number) =>
  value >= 10 ? `${value.toFixed(0)} s` : `${value.toFixed(value >= 1 ? 1 : 2)} s`;

function Latest(props: {
  readonly point: MetricsPoint | undefined;
  readonly answer: MetricsAnswer;
}): JSX.Element {
  const { point, answer } = props;
  const latency = point?.latencySeconds;
  return (
    <dl class="facts" data-testid="metrics-latest">
      <div class="fact">
        <dt>Requests since the gateway started</dt>
        <dd>{answer.totals?.requests ?? '—'}</dd>
      </div>
      <div class="fact">
        <dt>Completed since the gateway started</dt>
        <dd>{answer.totals?.completed ?? '—'}</dd>
      </div>
      <div class="fact">
        <dt>Now</dt>
        <dd>
          {point === undefined
            ? '—'
            : `${perSecond(point.requestsPerSecond)} requests/s, ${perSecond(point.completedPerSecond)} completed/s`}
        </dd>
      </div>
      <div class="fact">
        <dt>Latency, last {answer.latencyWindowSeconds} s</dt>
        <dd>
          {latency === undefined
            ? 'no payment completed'
            : `p50 ${seconds(latency.p50)}, p90 ${seconds(latency.p90)}, p99 ${seconds(latency.p99)} (${latency.completed} payment${latency.completed === 1 ? '' : 's'})`}
        </dd>
      </div>
    </dl>
  );
}

/** Payments per second and latency percentiles over the last minutes, from the gateway's /metrics. */
export function ChartsView(): JSX.Element {
  const loaded = useLoad(() => consoleApi.get<MetricsAnswer>('/metrics'), { refreshMs });
  return (
    <LoadedView loaded={loaded} label="Reading the metrics…">
      {(answer) => {
        const times = answer.points.map((point) => point.at);
        const latency = (pick: 'p50' | 'p90' | 'p99') =>
          answer.points.map((point) => point.latencySeconds?.[pick]);
        const last = answer.points[answer.points.length - 1];
        return (
          <>
            {answer.lastError === undefined ? null : (
              <Notice tone="warn">
                The last scrape of the gateway's metrics failed ({answer.lastError.code},{' '}
                {formatTime(answer.lastError.at)}); the charts stop there.
              </Notice>
            )}
            <Panel title="Now" actions={<RefreshButton loaded={loaded} />}>
              <Latest point={last} answer={answer} />
              <p class="muted">
                Scraped every {Math.round(answer.intervalMs / 1000)} s; {answer.points.length} points kept.
              </p>
            </Panel>
            <div class="console-grid">
              <Panel title="Payments per second">
                <LineChart
                  title="Payments per second"
                  description="Payment requests and completed payments per second between two scrapes of the gateway's metrics."
                  times={times}
                  format={perSecond}
                  series={[
                    {
                      label: 'requests',
                      className: 'console-series-1',
                      values: answer.points.map((point) => point.requestsPerSecond),
                    },
                    {
                      label: 'completed',
                      className: 'console-series-2',
                      values: answer.points.map((point) => point.completedPerSecond),
                    },
                  ]}
                />
              </Panel>
              <Panel title="Latency, request to completion">
                <LineChart
                  title="Latency percentiles"
                  description={`50th, 90th and 99th percentile of the time from the merchant's request to completion, over the payments completed in the ${answer.latencyWindowSeconds} s before each point.`}
                  times={times}
                  format={seconds}
                  series={[
                    { label: 'p50', className: 'console-series-1', values: latency('p50') },
                    { label: 'p90', className: 'console-series-2', values: latency('p90') },
                    { label: 'p99', className: 'console-series-3', values: latency('p99') },
                  ]}
                />
              </Panel>
            </div>
          </>
        );
      }}
    </LoadedView>
  );
}
