/**
 * `mpay simulate --write-doc`: docs/mobile-study.md from a run's figures,
 * with its charts in docs/mobile-study/*.svg (svg.ts) and the papers' crypto
 * against mpay's measured on this machine (crypto-compare.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareCrypto } from './crypto-compare.ts';
import type { ProtocolId } from './drivers.ts';
import type { CellFigures, SimulateFigures } from './index.ts';
import { type NetworkProfileId, networkProfileIds, networkProfiles } from './profiles.ts';
import { retransmissionMinMs, segmentBytesDefault } from './shaper.ts';
import { barChartSvg } from './svg.ts';

const docsDir = fileURLToPath(new URL('../../../../docs/', import.meta.url));

const protocolLabels: Record<ProtocolId, string> = {
  ims: 'iMS, key on the device',
  'ims-custody': 'iMS §5, key in custody',
  macro: 'macro-payment (seed 002)',
  banking: 'SA2pMP banking (seed 003)',
};

const timeToPay: Record<ProtocolId, string> = {
  ims: "the merchant's payment request → the FSP's receipt in the device's hands (Wallet.confirm's answer); the request reaches the device on its open event stream",
  'ims-custody':
    "the merchant's payment request → the FSP's receipt in the phone's hands; the phone long-polls custody's inbox for the forwarded request, confirms with its PIN (OPAQUE login at custody) and reads the receipt from custody's answer or its inbox",
  macro:
    "the client's step 1 (sealed payment request) → Pay_Confirm in the device's hands: step 1, the mPIN's OPAQUE login, the secret answer, the bank's PApp_Req polled for (every 250 ms) and approved, Pay_Confirm polled for. No merchant request in this protocol",
  banking:
    "the transfer request (signed, sealed under the session key) → the bank's signed answer saying completed; the session is logged in beforehand",
};

interface Metric {
  readonly file: string;
  readonly title: string;
  readonly unit: string;
  readonly value: (cell: CellFigures) => number | null;
}

const metrics: readonly Metric[] = [
  {
    file: 'time-to-pay-p50.svg',
    title: 'Time to pay, median',
    unit: 'seconds',
    value: (c) => (c.p50Ms === null ? null : c.p50Ms / 1000),
  },
  {
    file: 'time-to-pay-p95.svg',
    title: 'Time to pay, 95th percentile',
    unit: 'seconds',
    value: (c) => (c.p95Ms === null ? null : c.p95Ms / 1000),
  },
  {
    file: 'bytes.svg',
    title: 'Bytes on the device’s link per payment (up + down)',
    unit: 'kB',
    value: (c) => (c.bytesUp === null || c.bytesDown === null ? null : (c.bytesUp + c.bytesDown) / 1000),
  },
  {
    file: 'requests.svg',
    title: 'HTTP requests by the device per payment',
    unit: 'requests',
    value: (c) => c.httpRequests,
  },
  { file: 'device-cpu.svg', title: 'Device CPU per payment', unit: 'ms', value: (c) => c.deviceCpuMs },
];

function chartFor(figures: SimulateFigures, metric: Metric): string {
  const profiles = networkProfileIds.filter((id) => figures.cells.some((cell) => cell.profile === id));
  const protocols = [...new Set(figures.cells.map((cell) => cell.protocol))];
  return barChartSvg({
    title: metric.title,
    unit: metric.unit,
    groups: profiles.map((id) => networkProfiles[id].label),
    series: protocols.map((protocol) => ({
      name: protocol,
      values: profiles.map((profile) => {
        const cell = figures.cells.find((c) => c.protocol === protocol && c.profile === profile);
        const value = cell === undefined ? null : metric.value(cell);
        return value === null ? undefined : value;
      }),
    })),
  });
}

/** A Markdown table with its columns padded, as the repository's formatter (biome) writes them. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(3, title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

const cellText = (value: number | null, suffix = '') =>
  value === null ? '—' : `${value.toLocaleString('en-US')}${suffix}`;
const seconds = (ms: number | null) => (ms === null ? '—' : `${(ms / 1000).toFixed(2)} s`);

function tableFor(cells: readonly CellFigures[], protocol: ProtocolId): string {
  const rows = cells
    .filter((cell) => cell.protocol === protocol)
    .map((cell) => [
      networkProfiles[cell.profile as NetworkProfileId].label,
      `${cell.payments} / ${cell.failures}`,
      seconds(cell.p50Ms),
      seconds(cell.p95Ms),
      cellText(cell.bytesUp),
      cellText(cell.bytesDown),
      cellText(cell.httpRequests),
      cellText(cell.exchanges),
      String(cell.tcpConnections),
      String(cell.lostSegments),
      `${cellText(cell.deviceCpuMs)} (JS ${cellText(cell.deviceJsCpuMs)}, WebCrypto ${cellText(cell.deviceCryptoMs)})`,
    ]);
  return markdownTable(
    [
      'profile',
      'paid / failed',
      'time to pay p50',
      'p95',
      'bytes up',
      'bytes down',
      'HTTP requests',
      'wire exchanges',
      'new TCP connections (all payments)',
      'segments lost (all payments)',
      'device CPU ms',
    ],
    rows,
  );
}

/** Writes the doc and its charts; the paths written. */
export async function writeStudy(figures: SimulateFigures, dir = docsDir): Promise<string[]> {
  const chartDir = join(dir, 'mobile-study');
  await mkdir(chartDir, { recursive: true });
  const written: string[] = [];
  for (const metric of metrics) {
    const path = join(chartDir, metric.file);
    await writeFile(path, chartFor(figures, metric));
    written.push(path);
  }
  const crypto = compareCrypto();
  const protocols = [...new Set(figures.cells.map((cell) => cell.protocol))];
  const profiles = networkProfileIds.filter((id) => figures.cells.some((cell) => cell.profile === id));
  const failures = figures.cells.flatMap((cell) =>
    cell.failureSamples.map((text) => `- ${cell.protocol}, ${cell.profile}: ${text}`),
  );
  const doc = `# Mobile payments over simulated mobile links

The study the seeds promised ("a simulation of mobile transactions comparing
protocols"): mpay's four payment protocols paid over 2G, 3G, 4G and Wi-Fi
links, each payment measured where a phone feels it. Generated by
\`mpay simulate --write-doc\` (cli/src/commands/simulate/); rerun it to
refresh every figure, chart and table below.

- Command: \`${figures.command}\`
- Date: ${figures.date}
- Machine: ${cpus().length} core(s) (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}
- Load average (1, 5, 15 min): ${figures.loadBefore} before the run, ${figures.loadAfter} after. ${loadNote(figures.loadBefore, cpus().length)}
- ${figures.paymentsPerCell} payment(s) per protocol and profile${figures.stoppedEarly ? ' (the run stopped early: its time bound or an interrupt)' : ''}; loss seed \`${figures.seed}\`.

## Method

A platform (gateway, banks xbank and ybank, custody, the log and its
witness, the merchant's shop) runs in one process on loopback, PGlite in
memory, with \`mpay bench e2e\`'s policy (no step-up to a second factor) and
rate limits. For each protocol and network profile a **new customer** is
registered straight at the services (as \`mpay bench e2e\` registers its
customers; not measured), its device built with the SDK's public API and
pointed at **traffic-shaping proxies**, one in front of each service the
device talks to (the gateway, custody, xbank). The merchant's, the banks' and
custody's own calls among the services stay on loopback, unshaped: only the
device's leg is mobile. One unshaped payment first opens the device's
connections and warms the code (a phone already in use, its keep-alive
connections open); then the N payments, one after the other.

What each payment counts:

- **Time to pay**, per protocol:
${protocols.map((protocol) => `  - ${protocol}: ${timeToPay[protocol]}.`).join('\n')}
- **Bytes up and down**: on the device's wire, counted by the proxies: ${
    figures.tls
      ? `TLS records of what the
  device sent and got (every port HTTPS, as \`mpay up\` serves it; HTTP/2 with
  the gateway and custody, which offer it, HPACK sending each header once per
  connection; HTTP/1.1 with the bank), after the connections' handshakes (see
  the method above: they are opened by the warm-up payment).`
      : `HTTP
  request and status lines, headers, bodies (the platform runs plain HTTP
  here: no TLS records; see the weaknesses).`
  }
- **HTTP requests** started by the device (its \`fetch\` calls, the
  application's round trips), and **wire exchanges**: on each connection, a
  burst of bytes up after bytes down (a request and its answer), as the
  proxy sees them; **new TCP connections** (each a handshake round trip).
- **Device CPU**: the sum of (a) the CPU of every JavaScript callback that
  runs in the device's asynchronous context (AsyncLocalStorage), read with
  \`process.cpuUsage()\` around each one: the SDK, JOSE, JSON, OPAQUE's
  WebAssembly with its Argon2id; getrusage is process-wide, so work of
  other threads in those instants (libuv's pool running a server's crypto)
  is included: an over-estimate, more so under load; and (b) the device's
  WebCrypto calls (their work runs off the JavaScript thread), counted by
  kind and each kind timed alone after the run (median), times its count.

### The link model (cli/src/commands/simulate/shaper.ts)

A TCP proxy in user space (node:net; this kernel has no netem), agnostic to
what it carries. Each direction of each connection:

- **Latency**: every byte is delivered RTT/2 after it left the link.
- **Bandwidth**: a token bucket at the profile's rate with no burst
  allowance: every byte pays its serialization time (on GPRS's uplink a
  1,460-byte segment takes 584 ms); bytes wait for their tokens, none is
  dropped (queueing, not policing).
- **Loss as TCP feels it**: the byte stream is cut into ${segmentBytesDefault}-byte segments
  (by stream offset); each is lost with probability _p_ (a draw from
  SHA-256 of the seed, connection, direction and segment index, so a rerun
  with the same seed loses the same segments as long as connections are
  opened in the same order), and a lost segment arrives one retransmission
  later: max(RTO_min = ${retransmissionMinMs} ms, 2 × RTT). Delivery stays in order, so
  everything behind a lost segment waits (head-of-line blocking).
- Bounded: 64 connections at most, 4 MiB queued per direction (beyond it the
  sender is paused: back-pressure), FIN forwarded after the bytes before it.

Assumptions and weaknesses of the model:

- No congestion control: no slow start (a new connection's first flight is
  limited to ~10 segments in real TCP, ~14.6 kB; mpay's messages fit in it,
  and connections are kept alive), no window halving after a loss. A loss
  costs one retransmission delay, never more (no repeated loss of the same
  segment, no lost retransmission, no RTO back-off); fast retransmit, which
  would often cost one RTT instead, is not modelled either.
- No jitter, no reordering, no radio state machine: a real 3G/4G radio
  idle for seconds takes 0.1–2 s to promote (RRC) before its first byte,
  which this model does not add. Handshake and ACK losses are not drawn.
- Constant rates: real cells vary with signal, load and movement; the
  profiles are typical presets, not measurements of a network.
${
  figures.tls
    ? `- TLS handshakes are not in the payments' figures: the warm-up payment opens
  the connections (TLS 1.3: one extra RTT per new connection, ~1–3 kB of
  certificates each), as a phone in use has them open; a phone whose
  connections were closed pays them again.`
    : `- No TLS: mpay deploys HTTPS (TLS 1.3: one extra RTT per new connection,
  ~3–5 kB of certificates); the in-process platform here runs plain HTTP
  (\`--tls\` measures it over HTTPS). With keep-alive connections the
  per-payment cost of TLS is the records' ~22–29 bytes each.`
}
- The servers, the device and the proxy share the machine: server time is
  part of time to pay, as on a real platform, but inflated here by the load.

## Network profiles

${markdownTable(
  ['profile', 'RTT', 'down', 'up', 'loss', 'source'],
  networkProfileIds.map((id) => {
    const p = networkProfiles[id];
    return [
      p.label,
      `${p.rttMs} ms`,
      `${(p.downBitsPerSecond / 1000).toLocaleString('en-US')} kbit/s`,
      `${(p.upBitsPerSecond / 1000).toLocaleString('en-US')} kbit/s`,
      `${(p.loss * 100).toFixed(1)} %`,
      p.source,
    ];
  }),
)}

The presets: WebPageTest's connectivity profiles (WPO-Foundation/webpagetest,
www/settings/connectivity.ini.sample: "Edge", "3G", "LTE"), Firefox DevTools'
network throttling presets (firefox-devtools docs, "Throttling": GPRS, Wi-Fi;
the same figures as Chrome DevTools' older presets list), BrowserStack's
network simulation profiles (which add loss: "2g-gprs-good" 1 %,
"edge-lossy" 1 %, "3g-umts-lossy" 1 %, "3.5g-hspa-lossy" 1 %). The presets
give "latency" as the added round trip; here it is split evenly between
the two directions. The profiles run here: ${profiles.map((id) => networkProfiles[id].label).join(', ')}.

## Results

Medians per payment except time to pay (p50 and p95) and the sums marked so.
A dash: no payment completed.

${protocols.map((protocol) => `### ${protocolLabels[protocol]} (\`${protocol}\`)\n\n${tableFor(figures.cells, protocol)}`).join('\n\n')}

${failures.length === 0 ? 'No payment failed.' : `Failures (first of each cell):\n\n${failures.join('\n')}`}
${figures.cells.some((cell) => cell.unshapedRequests > 0) ? `\n**Some device requests bypassed the shaper** (their bytes are missing above): ${figures.unshapedSamples.join(', ')}\n` : '\nEvery device request went through the shaper.\n'}
### Charts

${metrics.map((metric) => `![${metric.title}](mobile-study/${metric.file})`).join('\n\n')}

### Reading the figures

- The servers run on the same machine: their time is part of every
  time to pay, and it varies from payment to payment by more than a fast
  link adds. Read a profile's row against the Wi-Fi row of the same
  protocol (where the link adds almost nothing): differences smaller than
  that spread (a 4G row slower than the 3G one, a lone high p95) are the
  load's noise, not the network's.
- On 2G, time to pay is dominated by round trips × RTT and, on GPRS, by
  bytes ÷ bandwidth: a protocol's number of sequential requests and the
  size of its signed and sealed messages matter more than its CPU.
- The macro protocol polls its bank (PApp_Req, then Pay_Confirm) every
  250 ms: its request count grows with the time the servers take (PApp_Req
  reaches the bank in the MPASP's background round) and shrinks on slow
  links, where each poll itself takes a round trip; a push (as ims's event
  stream) would save them.
- Custody's phone long-polls its inbox: one request waits for the forward
  (and, when custody's answer says only authorised, one more for the
  receipt); its PIN is an OPAQUE login, two requests, the second carrying
  the decision, with Argon2id on the phone, which shows in its device CPU.
- Banking (SA2pMP) is one request and one answer: the least traffic and
  the fewest round trips, with a session already open.

## The papers' crypto and mpay's, on this machine

Each operation on a 256-byte message, one call at a time with node:crypto
(OpenSSL ${process.versions.openssl}), the median of repeated calls (same machine, same load
as above). "Assumed" marks what a paper leaves unnamed and we chose as its
era's usual: the papers name these algorithms and sizes:

- seed 000 (iMS): "signs and encrypts" financial messages, the PIN
  "encrypted by asymmetric" crypto, certificates, SSL and WTLS. No
  algorithm or key size.
- seed 002 (macro): E_SP{M}, symmetric encryption "by shared mPIN number",
  a one-way hash h(X), the client's digital signature DS_C. No algorithm.
- seed 003 (SA2pMP): ECDSA, "the key size is 192 bits", "SHA-1 for message
  digesting", AES (no key length).
- mpay: JWS ES256 (default) or EdDSA, JWE ECDH-ES (P-256) with A256GCM,
  PINs behind OPAQUE with Argon2id, TLS 1.3 on every hop.

${markdownTable(
  ['scheme', 'operation', 'bytes', 'µs per call', 'note'],
  crypto.map((row) => [
    row.scheme,
    row.operation,
    row.bytes === undefined ? '—' : String(row.bytes),
    row.micros === undefined ? 'not measured' : row.micros.toLocaleString('en-US'),
    row.note,
  ]),
)}

Reading the table: mpay's messages are larger (a compact JWS of a 256-byte
message is about twice its size: base64url, the header, a 64-byte
signature; sealing it for the recipient adds a header with the
ephemeral key and a second base64url: 982 bytes for the 256-byte message),
and that is what the 2G rows above pay for in bandwidth. Per operation the hardened profile is not slower: OpenSSL's
P-256 is an optimised constant-time implementation while P-192 runs on the
generic code, so ES256 signs faster than SA2pMP's ECDSA P-192; the costly
operation is JWE's fresh ephemeral key per message (a new content key for
every message without a shared session). Here these are tens to hundreds
of microseconds (a phone's core is several times slower): a payment's
device CPU above is dominated by OPAQUE's Argon2id where a PIN is checked,
not by signatures.

What cannot be measured here and why: WTLS (iMS's phone leg) has no
implementation in node:crypto or anywhere current (WAP 1.x, withdrawn);
OPAQUE and Argon2id are WebAssembly in @serenity-kit/opaque, not
node:crypto: their cost is inside the device CPU of the ims-custody and
macro rows above, and in ims's unlock (once per session, not per payment).
P-192 and SHA-1 are measured but are below today's floors (NIST SP 800-131A
disallows SHA-1 signatures and 80/96-bit security); the macro paper's key
space is the mPIN's 10^6 values, whose exhaustive search the table prices.
`;
  const docPath = join(dir, 'mobile-study.md');
  await writeFile(docPath, doc);
  written.unshift(docPath);
  return written;
}

/**
 * What the load before the run says of its figures: above one runnable task per core, other work
 * shared the machine (times and CPU higher than on an idle machine); below, it was quiet.
 */
function loadNote(loadBefore: string, cores: number): string {
  const oneMinute = Number(loadBefore.split(' ')[0]);
  if (Number.isFinite(oneMinute) && oneMinute <= cores)
    return `Quiet machine (one-minute load at most one task per core): the servers, the
  device and the shaper's timers still share its ${cores} cores; the shaped link adds its delays on top, never less.`;
  return `**The machine was loaded by other work during this run** (more than one runnable task per core): the
  servers, the device and the shaper's timers all share it, so times and CPU are higher than on an idle
  machine; the shaped link adds its delays on top of that, never less.`;
}
