/**
 * `npm run fuzz`: every campaign at 100 000 cases (see fuzz/campaigns). Options:
 *   --cases N          cases per campaign
 *   --campaign NAME    only this campaign (repeatable)
 *   --seed N           fast-check seed (default: random, printed)
 *   --path P           with --seed and one --campaign: replay exactly the failing case P
 *   --case-time-ms N   one case longer than this fails its campaign (default 2000)
 *   --heap-mb N        heap growth over a campaign beyond this fails it (default 256)
 * Exits 1 when any campaign crashed, was too slow, or grew the heap too much.
 */
import { parseArgs } from 'node:util';
import { campaigns } from './campaigns/index.ts';
import { type CampaignResult, defaultFuzzLimits, runCampaign } from './harness.ts';

const casesDefault = 100_000;

function positiveInteger(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, not ${text}`);
  return value;
}

function seedOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new Error(`--seed must be an integer, not ${text}`);
  return value | 0;
}

const { values } = parseArgs({
  options: {
    cases: { type: 'string' },
    campaign: { type: 'string', multiple: true },
    seed: { type: 'string' },
    path: { type: 'string' },
    'case-time-ms': { type: 'string' },
    'heap-mb': { type: 'string' },
    list: { type: 'boolean' },
  },
});

if (values.list) {
  for (const campaign of campaigns) console.log(`${campaign.name.padEnd(20)} ${campaign.covers}`);
  process.exit(0);
}

const cases = positiveInteger(values.cases, '--cases', casesDefault);
const limits = {
  caseTimeMsMax: positiveInteger(values['case-time-ms'], '--case-time-ms', defaultFuzzLimits.caseTimeMsMax),
  heapGrowthMbMax: positiveInteger(values['heap-mb'], '--heap-mb', defaultFuzzLimits.heapGrowthMbMax),
};
const names = values.campaign ?? [];
const unknown = names.filter((name) => !campaigns.some((campaign) => campaign.name === name));
if (unknown.length > 0) {
  console.error(`unknown campaign ${unknown.join(', ')}; known: ${campaigns.map((c) => c.name).join(', ')}`);
  process.exit(2);
}
if (values.path !== undefined && (values.seed === undefined || names.length !== 1)) {
  console.error('--path replays one case: give it with --seed and one --campaign');
  process.exit(2);
}
const selected =
  names.length === 0 ? campaigns : campaigns.filter((campaign) => names.includes(campaign.name));
if (typeof (globalThis as { gc?: unknown }).gc !== 'function')
  console.log('(no --expose-gc: heap deltas include garbage not yet collected)');

const started = performance.now();
const results: CampaignResult[] = [];
for (const campaign of selected) {
  console.log(`${campaign.name}: ${campaign.covers}`);
  const result = await runCampaign(campaign, {
    cases,
    seed: seedOf(values.seed),
    path: values.path,
    limits,
    progressEveryMs: 5_000,
    onProgress: (done, elapsedMs) =>
      console.log(`  ${campaign.name}: ${done} cases, ${Math.round((done * 1000) / elapsedMs)} cases/s`),
  });
  results.push(result);
  const rate = Math.round((result.cases * 1000) / result.durationMs);
  console.log(
    `  ${campaign.name}: ${result.cases} cases in ${(result.durationMs / 1000).toFixed(1)} s (${rate} cases/s), seed ${result.seed}, ${result.failure === undefined ? 'ok' : 'FAILED'}`,
  );
  if (result.failure !== undefined) console.log(result.failure);
}

const rows = results.map((result) => [
  result.name,
  String(result.cases),
  String(result.crashes),
  result.slowestCaseMs.toFixed(1),
  result.heapDeltaMb.toFixed(1),
  (result.durationMs / 1000).toFixed(1),
  result.failure === undefined ? 'ok' : 'FAILED',
]);
const header = ['campaign', 'cases', 'crashes', 'slowest case ms', 'heap delta MB', 'seconds', 'result'];
const widths = header.map((title, column) =>
  Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
);
const line = (cells: readonly string[]) =>
  `| ${cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join(' | ')} |`;
console.log('');
console.log(line(header));
console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
for (const row of rows) console.log(line(row));
const failed = results.filter((result) => result.failure !== undefined);
console.log(
  `\n${results.length} campaigns, ${results.reduce((sum, result) => sum + result.cases, 0)} cases in ${((performance.now() - started) / 1000).toFixed(1)} s; limits: ${limits.caseTimeMsMax} ms per case, ${limits.heapGrowthMbMax} MB heap growth; ${failed.length === 0 ? 'no failure' : `FAILED: ${failed.map((result) => result.name).join(', ')}`}`,
);
for (const result of failed) console.log(`\n${result.failure}`);
process.exitCode = failed.length === 0 ? 0 : 1;
