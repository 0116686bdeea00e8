import { finalPaymentStates, paymentDurationBucketsSeconds, paymentStepBucketsSeconds } from '@mpay/gateway';
import { readDurationHistograms } from '@mpay/http-server';
import type { Database } from '@mpay/storage';
import { type CommandIo, type StopSignalWatch, watchStopSignals } from '../io.ts';
import { percentile } from '../simulate/index.ts';
import { loadAverage, parseBenchFlags, startBenchPlatform } from './bench-platform.ts';

export const benchScrapeUsage = `Usage: mpay bench scrape [--payments N] [--scrapes K] [--json]
  Starts the platform in this process and times the gateway's GET /metrics (the operator's scrape,
  over HTTP) against the history it holds: K scrapes (default 20, 1..1000) with no payment yet,
  then K again after N settled payments (default 100000, 1000..2000000) were written to its tables
  (synthetic rows, as the steps leave them: the payment, its four events, its four delivered
  outbox rows, written in chunks of 10,000 with progress on stderr). Prints the median scrape at
  each size, and the baseline measured in the same run: the queries a scrape ran before
  2026-12-08, which read every payment, every event and every delivered outbox row, once on the
  same tables. Nothing is in flight or waiting in the history written: what a scrape reads now
  follows those (through indexes), and is not measured here. DATABASE_URL selects PostgreSQL (fresh schemas, dropped at the end); else PGlite in
  memory. --json prints one JSON object. Ctrl-C or SIGTERM closes the platform (its custody token
  deleted, its schemas dropped), then exits 130 or 143.
`;

interface ScrapeArguments {
  readonly payments: number;
  readonly scrapes: number;
  readonly json: boolean;
}

export const benchScrapeLimits = Object.freeze({
  paymentsMin: 1_000,
  paymentsMax: 2_000_000,
  scrapesMin: 1,
  scrapesMax: 1_000,
  /** Payments written per statement while the history is filled (a progress line each). */
  chunk: 10_000,
});

export function parseBenchScrapeArguments(args: readonly string[]): ScrapeArguments | undefined {
  const parsed = parseBenchFlags(args, {
    payments: { min: benchScrapeLimits.paymentsMin, max: benchScrapeLimits.paymentsMax, fallback: 100_000 },
    scrapes: { min: benchScrapeLimits.scrapesMin, max: benchScrapeLimits.scrapesMax, fallback: 20 },
  });
  return parsed === undefined ? undefined : { ...parsed.values, json: parsed.json };
}

/** The median (nearest rank) of `values`, not empty: the percentile `mpay simulate` reports with. */
function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  ) as number;
}

const benchMerchant = 'bench-scrape-merchant';
const benchCustomer = 'bench-scrape-customer';

/**
 * Payments `from`..`to` (1-based) as a settled iMS payment leaves its rows:
 * funds transferred 0.2–1.1 s after the request, four events, four outbox
 * rows delivered. Their texts are of a real payment's size (about 1 KB for
 * the message and the receipt, 300 bytes for a push or webhook payload).
 */
async function writeSettledPayments(
  database: Database,
  from: number,
  to: number,
  start: Date,
): Promise<void> {
  const message = JSON.stringify({ filler: 'm'.repeat(1000) });
  const receipt = 'r'.repeat(1000);
  const payload = JSON.stringify({ filler: 'p'.repeat(300) });
  await database.transaction(async (sql) => {
    const params = [from, to, start.toISOString()];
    const series = `generate_series($1::int, $2::int) AS g, LATERAL (SELECT $3::timestamptz + g * interval '100 ms' AS t) AS at`;
    const expect = (written: { rowCount: number }, perPayment: number, what: string) => {
      if (written.rowCount !== (to - from + 1) * perPayment)
        throw new Error(`bench scrape: ${written.rowCount} ${what} written for payments ${from}..${to}`);
    };
    const payments = await sql.query(
      `INSERT INTO payments (id, merchant_id, customer_id, procedure, currency, amount_minor, security_level, state,
         message, receipt, payer_account, expires_at, created_at, updated_at, version)
       SELECT 'bench-scrape-' || g, $4, $5, 'ims', 'EUR', 1250, 'level1', 'funds_transferred', $6, $7, 'account',
         at.t + interval '5 minutes', at.t, at.t + (200 + g % 900) * interval '1 ms', 3
       FROM ${series}`,
      [...params, benchMerchant, benchCustomer, message, receipt],
    );
    expect(payments, 1, 'payments');
    const events = await sql.query(
      `INSERT INTO payment_events (payment_id, sequence, from_state, to_state, event, step, detail, created_at)
       SELECT 'bench-scrape-' || g, s.sequence, s.from_state, s.to_state, s.event, 'bench', NULL,
         at.t + s.after_ms * (200 + g % 900) / 1000 * interval '1 ms'
       FROM ${series},
         (VALUES (1, NULL, 'merchant_request_verified', NULL, 0),
                 (2, 'merchant_request_verified', 'awaiting_customer_signature', 'countersigned', 0),
                 (3, 'awaiting_customer_signature', 'customer_signature_verified', 'customer_confirmed', 600),
                 (4, 'customer_signature_verified', 'funds_transferred', 'bank_paid', 1000))
           AS s(sequence, from_state, to_state, event, after_ms)`,
      params,
    );
    expect(events, 4, 'events');
    const outbox = await sql.query(
      `INSERT INTO outbox (payment_id, kind, payload, attempts, next_attempt_at, created_at, delivered_at)
       SELECT 'bench-scrape-' || g, k.kind, $4, 1, at.t, at.t, at.t + k.after_ms * interval '1 ms'
       FROM ${series},
         (VALUES ('device_push', 20), ('bank_order', 300), ('webhook', 40), ('log_entry', 900)) AS k(kind, after_ms)`,
      [...params, payload],
    );
    expect(outbox, 4, 'outbox rows');
  });
}

/** The queries GET /metrics ran before 2026-12-08 (over every payment, event and delivered outbox row), once. */
async function readHistoryAsBefore(database: Database): Promise<void> {
  await database.query(
    'SELECT to_state AS state, count(*)::text AS count FROM payment_events GROUP BY to_state',
  );
  await database.query('SELECT state, count(*)::text AS count FROM payments GROUP BY state');
  const finals = [...finalPaymentStates];
  await database.query(
    `SELECT state, count(*)::text AS count, sum(extract(epoch FROM updated_at - created_at))::float8 AS sum
     FROM payments WHERE state = ANY($1::text[]) GROUP BY state`,
    [finals],
  );
  await database.query(
    `SELECT p.state, b.bound, count(*)::text AS count
     FROM payments p JOIN unnest($2::float8[]) AS b(bound)
       ON extract(epoch FROM p.updated_at - p.created_at)::float8 <= b.bound
     WHERE p.state = ANY($1::text[]) GROUP BY p.state, b.bound`,
    [finals, [...paymentDurationBucketsSeconds]],
  );
  await readDurationHistograms(
    database,
    `SELECT e.from_state || ' ' || e.to_state AS key,
       greatest(extract(epoch FROM e.created_at - p.created_at), 0)::float8 AS seconds
     FROM payment_events e
     JOIN payment_events p ON p.payment_id = e.payment_id AND p.sequence = e.sequence - 1
     WHERE e.from_state IS NOT NULL`,
    [],
    paymentStepBucketsSeconds,
  );
  await readDurationHistograms(
    database,
    `SELECT kind AS key, greatest(extract(epoch FROM delivered_at - created_at), 0)::float8 AS seconds
     FROM outbox WHERE delivered_at IS NOT NULL`,
    [],
    paymentStepBucketsSeconds,
  );
  await database.query(
    `SELECT 'outbox/' || kind AS name,
       count(*) FILTER (WHERE delivered_at IS NULL AND abandoned_at IS NULL)::text AS pending,
       count(*) FILTER (WHERE delivered_at IS NULL AND abandoned_at IS NULL AND attempts > 0)::text AS retrying,
       count(*) FILTER (WHERE abandoned_at IS NOT NULL)::text AS abandoned,
       min(created_at) FILTER (WHERE delivered_at IS NULL AND abandoned_at IS NULL) AS oldest
     FROM outbox WHERE delivered_at IS NULL GROUP BY kind`,
  );
}

/** `scrapes` GETs of the gateway's /metrics, one after the other; each one's milliseconds. */
async function timeScrapes(url: string, token: string, scrapes: number): Promise<number[]> {
  const times: number[] = [];
  for (let index = 0; index < scrapes; index += 1) {
    const started = performance.now();
    const response = await fetch(`${url}/metrics`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(scrapeTimeoutMs),
    });
    const text = await response.text();
    if (response.status !== 200 || !text.includes('mpay_gateway_payments_total'))
      throw new Error(`bench scrape: GET /metrics answered ${response.status}`);
    times.push(performance.now() - started);
  }
  return times;
}

/** One scrape's limit: the old queries took 22 s at 300,000 payments; a scrape now takes milliseconds. */
const scrapeTimeoutMs = 120_000;

const round = (value: number) => Math.round(value * 100) / 100;

/** `mpay bench scrape`: the gateway's scrape at no history and at N payments, against the history read as before. */
export async function runBenchScrape(args: readonly string[], io: CommandIo): Promise<number> {
  const parsed = parseBenchScrapeArguments(args);
  if (parsed === undefined) {
    io.stderr(benchScrapeUsage);
    return 2;
  }
  const watch = watchStopSignals({ io, command: 'bench scrape', cleanUpMsMax: benchScrapeCleanUpMsMax });
  return watch.finish(() => benchScrape(parsed, io, watch));
}

/** A stop signal's clean-up: the platform closed once started (its token deleted, its PostgreSQL schemas dropped). */
export const benchScrapeCleanUpMsMax = 10 * 60_000;

async function benchScrape(parsed: ScrapeArguments, io: CommandIo, watch: StopSignalWatch): Promise<number> {
  const databaseUrl = process.env.DATABASE_URL === '' ? undefined : process.env.DATABASE_URL;
  const loadBefore = await loadAverage();
  const { platform, close } = await startBenchPlatform('scrape', io, watch);
  try {
    const database = platform.databases[0];
    if (database === undefined) throw new Error('assertion failed: the platform has a gateway database');
    const url = platform.urls.gateway;
    await database.query(
      `INSERT INTO parties (id, kind, display_name) VALUES ($1, 'merchant', 'bench scrape merchant'),
         ($2, 'person', 'bench scrape customer')`,
      [benchMerchant, benchCustomer],
    );
    io.stderr(`bench scrape: ${parsed.scrapes} scrapes with no payment\n`);
    const empty = await timeScrapes(url, platform.operatorToken, parsed.scrapes);
    const start = new Date(Date.now() - parsed.payments * 100 - 3_600_000);
    for (let from = 1; from <= parsed.payments; from += benchScrapeLimits.chunk) {
      if (watch.stoppedStatus() !== undefined) return 1;
      const to = Math.min(parsed.payments, from + benchScrapeLimits.chunk - 1);
      await writeSettledPayments(database, from, to, start);
      io.stderr(`bench scrape: wrote ${to} of ${parsed.payments} payments\n`);
    }
    // The planner's figures for the tables just filled (PostgreSQL's autovacuum may be off, or not yet round).
    if (databaseUrl !== undefined) await database.query('ANALYZE payments, payment_events, outbox');
    io.stderr(`bench scrape: ${parsed.scrapes} scrapes with ${parsed.payments} payments\n`);
    const full = await timeScrapes(url, platform.operatorToken, parsed.scrapes);
    io.stderr('bench scrape: the baseline, the history read as before 2026-12-08, once\n');
    const baselineStarted = performance.now();
    await readHistoryAsBefore(database);
    const baselineMs = performance.now() - baselineStarted;
    const loadAfter = await loadAverage();
    const figures = {
      database: databaseUrl === undefined ? 'pglite' : 'postgresql',
      payments: parsed.payments,
      scrapes: parsed.scrapes,
      scrape_ms_median: { empty: round(median(empty)), full: round(median(full)) },
      scrape_ms_max: { empty: round(Math.max(...empty)), full: round(Math.max(...full)) },
      baseline_history_read_ms: round(baselineMs),
      load_average: { before: loadBefore, after: loadAfter },
    };
    if (parsed.json) {
      io.stdout(`${JSON.stringify(figures)}\n`);
      return 0;
    }
    const count = parsed.payments.toLocaleString('en');
    const label = (text: string) => `  ${text.padEnd(20)}`;
    io.stdout(
      [
        `mpay bench scrape (${figures.database}): the gateway's GET /metrics over HTTP, median of ${parsed.scrapes} scrapes`,
        `${label('no payment')}${figures.scrape_ms_median.empty} ms per scrape (max ${figures.scrape_ms_max.empty})`,
        `${label(`${count} payments`)}${figures.scrape_ms_median.full} ms per scrape (max ${figures.scrape_ms_max.full})`,
        `${label('baseline')}${figures.baseline_history_read_ms} ms: the history read as a scrape read it before 2026-12-08, once, at ${count} payments`,
        `${label('load average')}${loadBefore} before, ${loadAfter} after`,
        '',
      ].join('\n'),
    );
    return 0;
  } finally {
    await close();
  }
}
