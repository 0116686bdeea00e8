import { join } from 'node:path';
import { isMpayError } from '@mpay/protocol';
import { runDemo } from './commands/demo.ts';
import { type Deployment, dataDirOf, readJson } from './commands/deployment.ts';
import { type CommandIo, parseFlags, printable, processIo } from './commands/io.ts';
import { runUp } from './commands/up.ts';
import { trustDeploymentCa } from './platform/tls.ts';

/** The commands that call a running deployment's services (and so must trust its CA when it runs TLS). */
const clientCommands = new Set(['demo', 'audit', 'settlement', 'banking', 'custody', 'dispute', 'refund']);

/** When `mpay up` wrote a CA into deployment.json, this process's fetch trusts it (and nothing else). */
async function trustRunningDeployment(flags: Map<string, string>): Promise<void> {
  const deployment = await readJson<Deployment>(join(dataDirOf(flags), 'deployment.json'));
  if (typeof deployment?.tls?.ca === 'string') await trustDeploymentCa(deployment.tls.ca);
}

export const usage = `mpay — secure mobile payments

Usage:
  mpay up [--data DIR] [--verbose]      start gateway, banks xbank and ybank, merchant shop, log and witness, custody
          [--no-tls]                    over HTTPS with the deployment's CA in <data>/pki (made on first start);
                                        mutual TLS between institutions; --no-tls (or MPAY_TLS=0): plain HTTP
  mpay up --processes [--data DIR]      the same with each service in its own process (restarted if it dies; no web pages)
          [--restarts N] [--restart-window MINUTES]   restarts of one service within the window before the
                                        platform stops and exits 1 (default 5 within 10 minutes)
  mpay up --gateways N                  N gateway instances on DATABASE_URL's PostgreSQL behind one front on the gateway port
  mpay demo [--out DIR] [--data DIR]    run one payment end to end against running (or self-started) services
  mpay demo --level small|medium|large  the same at an amount of that level; large asks the one-time code and the bank's approval
  mpay demo --custody [--out DIR]       the same for the custody customer: the ten steps of iMS §5 (key in the HSM)
  mpay demo --m-trade [--out DIR]       m-trade at the till (iMS §2.2): a signed EMV QR code, claimed by the wallet
  mpay demo macro [--trace]             a new client of xbank registers (mail) and pays the merchant at ybank: seed 002's
                                        12 steps, --trace with each message's size and who signed or sealed it
  mpay demo macro --fail secret|balance|expiry|tries   a failure path: its stable code, and no money moved
  mpay demo banking                     seed 003's mobile banking (SA2pMP): a new customer enrols a phone, logs in with
                                        every factor (SMS code from the platform), pays across banks and a bill, checks a
                                        log receipt offline, renews its key on the bank's notice, revokes it from a new phone
  mpay custody unblock PARTY [--bank B] the customer's bank lifts custody's PIN block (signed with the bank's key)
  mpay banking customer add PARTY --user U --msisdn +E164   the bank enables PARTY for mobile banking: an enrolment code
  mpay banking enrol|login|balance|transfer|pay-bill|statement|devices|revoke|renew --user U [--json]
                                        the customer's phone (keys in <data>/banking/devices/U.json, mode 0600);
                                        biller add, notice SERIAL, unblock PARTY for the operator: mpay banking help
  mpay log keygen NAME                  create a signed-note key pair
  mpay log note sign --skey FILE        sign the note on stdin
  mpay log note verify --vkey FILE      verify the signed note on stdin
  mpay log verify FILE --log-key F --witness-key F   check a receipt or dispute file offline
  mpay log serve | mpay log witness     the log or a witness as its own process (mpay log --help)
  mpay audit [--data DIR]               check every bank's ledger invariants and the banks' positions
  mpay settlement [--book] [--json]     who owes whom between the banks; --book settles what both agree on
  mpay dispute PAYMENT_ID [--out FILE]  the payment's signed messages, log proof and cosigned checkpoint in one file
  mpay refund PAYMENT_ID [--amount 5.00] the demo merchant refunds a completed payment (all, or part) through the banks
  mpay mail [ADDRESS] [--json]          the mail the platform's mail server received (all, or one address's), newest first
  mpay sms [MSISDN] [--json]            the SMS the platform's SMS gateway received (all, or one number's), newest first
  mpay pki init|issue|rotate|list [--data DIR] [--json]   the deployment's private CA in <data>/pki: a TLS
                                        certificate per service of each institution (mpay pki help)
  mpay chaos [--minutes N | --seconds S] [--kills-per-minute K] [--lanes L] [--seed X] [--json]
                                        payments under load while services are SIGKILLed and restarted, then the
                                        money, mpay audit and every completed payment's evidence are checked
  mpay bench ledger|log [--json]        measure the ledger or the log against a baseline in the same run
  mpay simulate [--profiles 2g,3g,4g,wifi] [--protocols ims,ims-custody,macro,banking] [--payments N]
          [--seed X] [--json] [--write-doc]   payments over simulated GPRS/EDGE/3G/4G/Wi-Fi links (a shaping
                                        proxy on the device's leg): time to pay, bytes, round trips, device CPU
  mpay storage status|enable-checksums  the embedded databases' folders: checksums, state, lock; add checksums
  mpay help                             this text

Environment: DATABASE_URL (PostgreSQL instead of PGlite), MPAY_DATA_DIR (default ./.mpay),
MPAY_GATEWAY_PORT (4100; with MPAY_GATEWAYS or --gateways N > 1, the front's), MPAY_XBANK_PORT (4101), MPAY_SHOP_PORT (4102), MPAY_YBANK_PORT (4103),
MPAY_LOG_PORT (4110), MPAY_WITNESS_PORT (4111), MPAY_CUSTODY_PORT (4120), MPAY_MAIL_PORT (4130),
MPAY_MACRO_T_EXP_SECONDS (300, at least 10: the macro payment's T_EXP − T_iS; --fail expiry waits that long),
MPAY_BANKING_PASSWORD (mpay banking's password where no terminal can ask for it),
MPAY_TLS (1; 0: mpay up without TLS).
Configuration in the data folder: security-policy.json (the security levels; written with the defaults on
first start), gateway-limits.json (optional: the gateway limits it names, e.g. {"paymentRequestsPerCustomerMax": 30};
read again when mpay up gets SIGHUP).
`;

/**
 * What each command parsed here (`parseFlags`) accepts: flags with a value, switches, and how many
 * words besides. Anything else is refused with exit 2 instead of being ignored (`mpay up --daat x`
 * would otherwise start a platform in ./.mpay). The other commands check their own arguments.
 */
const commandArguments: Readonly<
  Record<
    string,
    { readonly values: readonly string[]; readonly switches: readonly string[]; readonly words: number }
  >
> = {
  up: {
    values: ['data', 'gateways', 'restarts', 'restart-window'],
    switches: ['verbose', 'no-tls', 'processes'],
    words: 0,
  },
  demo: { values: ['data', 'out', 'level', 'fail'], switches: ['custody', 'm-trade', 'trace'], words: 1 },
  audit: { values: ['data'], switches: [], words: 0 },
  settlement: { values: ['data'], switches: ['book', 'json'], words: 0 },
  dispute: { values: ['data', 'out'], switches: [], words: 1 },
  mail: { values: ['data'], switches: ['json'], words: 1 },
  sms: { values: ['data'], switches: ['json'], words: 1 },
};

const helpFlags = new Set(['--help', '-h']);

/** The flags `command` reads with a value, as its entry in the table says (undefined: a command that checks its own). */
export function valueFlagsOf(command: string | undefined): readonly string[] | undefined {
  if (command === undefined || !Object.hasOwn(commandArguments, command)) return undefined;
  return commandArguments[command]?.values;
}

/** What is wrong with a command's arguments (one line), or undefined. */
export function argumentProblem(command: string, args: readonly string[]): string | undefined {
  if (!Object.hasOwn(commandArguments, command)) return undefined;
  const accepted = commandArguments[command];
  if (accepted === undefined) return undefined;
  let words = 0;
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] ?? '';
    if (!arg.startsWith('-')) {
      words += 1;
      if (words > accepted.words) return `unexpected argument ${printable(arg)}`;
      continue;
    }
    // Flags have two dashes (parseFlags reads no other): `-data` would be a word there.
    if (!arg.startsWith('--')) return `unknown flag ${printable(arg)} (flags start with --)`;
    const [name = '', inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    if (accepted.values.includes(name)) {
      if (inline !== undefined) {
        if (inline === '') return `--${name} needs a value`;
        continue;
      }
      const next = args[index + 1];
      if (next === undefined || next.startsWith('--')) return `--${name} needs a value`;
      index += 1;
      continue;
    }
    if (accepted.switches.includes(name)) {
      if (inline !== undefined) return `--${name} takes no value`;
      continue;
    }
    return `unknown flag ${printable(arg.split('=', 1)[0] ?? arg)}`;
  }
  return command === 'demo' ? demoArgumentProblem(args) : undefined;
}

/** The flags each demo reads (`mpay demo`, `mpay demo macro`, `mpay demo banking`); --data for all. */
const demoFlags: Readonly<Record<string, readonly string[]>> = {
  payment: ['out', 'level', 'custody', 'm-trade'],
  macro: ['fail', 'trace'],
  banking: [],
};

/** A flag of one demo given to another (`mpay demo --trace`): refused, not ignored. */
function demoArgumentProblem(args: readonly string[]): string | undefined {
  const kind = args.find((arg, index) => !arg.startsWith('-') && !isFlagValue(args, index)) ?? 'payment';
  const own = demoFlags[kind];
  if (own === undefined) return undefined;
  const names = args.filter((arg) => arg.startsWith('--')).map((arg) => arg.slice(2).split('=', 1)[0] ?? '');
  const foreign = names.find((name) => name !== 'data' && !own.includes(name));
  if (foreign !== undefined)
    return `--${foreign} is not a flag of ${kind === 'payment' ? '`mpay demo`' : `\`mpay demo ${kind}\``}`;
  if (names.includes('custody') && names.includes('m-trade'))
    return '--custody and --m-trade are two demos: name one';
  return undefined;
}

/** Whether the word at `index` is the value of the value flag before it (`--out DIR`). */
function isFlagValue(args: readonly string[], index: number): boolean {
  const before = args[index - 1];
  return before?.startsWith('--') === true && (commandArguments.demo?.values ?? []).includes(before.slice(2));
}

/** The lines of the usage that describe `command` (its first line and those that continue it). */
export function usageOf(command: string): string {
  const lines = usage.split('\n');
  const kept: string[] = [];
  let inCommand = false;
  for (const line of lines) {
    if (/^ {2}mpay /.test(line))
      inCommand = line.startsWith(`  mpay ${command} `) || line === `  mpay ${command}`;
    else if (!/^ {10}/.test(line)) inCommand = false;
    if (inCommand) kept.push(line);
  }
  return `Usage:\n${kept.join('\n')}\n\nEverything: mpay help\n`;
}

export async function main(argv: string[], io: CommandIo = processIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== undefined && Object.hasOwn(commandArguments, command)) {
    if (rest.some((arg) => helpFlags.has(arg))) {
      io.stdout(usageOf(command));
      return 0;
    }
    const problem = argumentProblem(command, rest);
    if (problem !== undefined) {
      io.stderr(`mpay ${command}: ${problem}\n\n${usageOf(command)}`);
      return 2;
    }
  }
  // Parsed with the values the table declares, so the check above and the reading agree.
  const { flags } = parseFlags(rest, valueFlagsOf(command));
  try {
    if (command !== undefined && clientCommands.has(command)) await trustRunningDeployment(flags);
    switch (command) {
      case 'up':
        return await runUp(flags, io);
      case 'demo':
        return await runDemo(flags, io, parseFlags(rest, valueFlagsOf(command)).positional);
      case 'audit': {
        const { runAudit } = await import('./commands/audit.ts');
        return await runAudit(flags, io);
      }
      case 'settlement': {
        const { runSettlement } = await import('./commands/settlement.ts');
        return await runSettlement(flags, io);
      }
      case 'banking': {
        const { runBankingCommand } = await import('./commands/banking.ts');
        return await runBankingCommand(rest, io);
      }
      case 'custody': {
        const { runCustodyCommand } = await import('./commands/custody.ts');
        return await runCustodyCommand(rest, io);
      }
      case 'dispute': {
        const { runDispute } = await import('./commands/dispute.ts');
        return await runDispute(parseFlags(rest, valueFlagsOf(command)).positional, flags, io);
      }
      case 'refund': {
        const { runRefund } = await import('./commands/refund.ts');
        return await runRefund(rest, io);
      }
      case 'mail': {
        const { runMail } = await import('./commands/mail.ts');
        return await runMail(parseFlags(rest, valueFlagsOf(command)).positional, flags, io);
      }
      case 'sms': {
        const { runSms } = await import('./commands/sms.ts');
        return await runSms(parseFlags(rest, valueFlagsOf(command)).positional, flags, io);
      }
      case 'pki': {
        const { runPkiCommand } = await import('./commands/pki.ts');
        return await runPkiCommand(rest, io);
      }
      case 'chaos': {
        const { runChaos } = await import('./commands/chaos.ts');
        return await runChaos(rest, io);
      }
      case 'bench': {
        const { runBench } = await import('./commands/bench/index.ts');
        return await runBench(rest, io);
      }
      case 'simulate': {
        const { runSimulate } = await import('./commands/simulate/index.ts');
        return await runSimulate(rest, io);
      }
      case 'storage': {
        const { runStorageCommand } = await import('./commands/storage.ts');
        return await runStorageCommand(rest, io);
      }
      case 'log': {
        const { runLogCommand } = await import('./commands/log/index.ts');
        return await runLogCommand(rest, {
          ...io,
          stdin: readStdin,
          readFile: (path: string) => import('node:fs/promises').then((fs) => fs.readFile(path, 'utf8')),
        });
      }
      case undefined:
      case 'help':
      case '--help':
        io.stdout(usage);
        return 0;
      default:
        io.stderr(`mpay: unknown command ${command}\n\n${usage}`);
        return 2;
    }
  } catch (error) {
    io.stderr(
      isMpayError(error)
        ? `mpay: ${error.code}: ${error.message}${error.detail ? ` (${error.detail})` : ''}\n`
        : `mpay: ${String(error instanceof Error ? error.stack : error)}\n`,
    );
    return 1;
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
