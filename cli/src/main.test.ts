import { describe, expect, it } from 'vitest';
import { parseFlags } from './commands/io.ts';
import { argumentProblem, main, usageOf, valueFlagsOf } from './main.ts';

async function run(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const status = await main(argv, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  });
  return { status, stdout, stderr };
}

describe('mpay COMMAND --help', () => {
  it("prints the command's own usage and runs nothing", async () => {
    // Through main with commands that would only fail here should --help ever be missed (`up` would start a platform).
    const audit = await run('audit', '--help');
    expect(audit).toMatchObject({ status: 0, stderr: '' });
    expect(audit.stdout).toMatch(/^Usage:\n {2}mpay audit \[--data DIR\]/);
    expect(audit.stdout).not.toContain('mpay up');
    const settlement = await run('settlement', '--book', '-h');
    expect(settlement.status).toBe(0);
    expect(settlement.stdout).toContain('mpay settlement [--book] [--json]');
  });

  it("holds each command's lines, continuations included, and no other command's", () => {
    const up = usageOf('up');
    expect(up).toContain('mpay up [--data DIR] [--verbose]');
    expect(up).toContain('mpay up --processes');
    expect(up).toContain('[--no-tls]');
    expect(up).not.toContain('mpay demo');
    const demo = usageOf('demo');
    expect(demo).toContain('mpay demo macro --fail secret|balance|expiry|tries');
    expect(demo).not.toContain('mpay up');
  });
});

describe('arguments a command does not take', () => {
  it('are refused by main with exit 2, the reason and the usage, before anything starts', async () => {
    // A command whose run would only fail (no deployment here) should the check ever let it through.
    const result = await run('audit', '--json');
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^mpay audit: unknown flag --json\n\nUsage:\n {2}mpay audit/);
    expect(result.stdout).toBe('');
  });

  it('each with its reason', () => {
    // Checked without running main: a check that let one through would start a platform or a demo.
    for (const [argv, reason] of [
      [['up', '--daat', '/tmp/x'], 'unknown flag --daat'],
      [['up', '--data'], '--data needs a value'],
      [['up', '--data', '--verbose'], '--data needs a value'],
      [['up', '--data='], '--data needs a value'],
      [['up', 'now'], 'unexpected argument now'],
      [['up', '--verbose=yes'], '--verbose takes no value'],
      [['audit', '--json'], 'unknown flag --json'],
      [['settlement', '--book', 'all'], 'unexpected argument all'],
      [['dispute', 'p-1', 'p-2'], 'unexpected argument p-2'],
      [['mail', '--jsn'], 'unknown flag --jsn'],
      [['demo', '--level'], '--level needs a value'],
      [['demo', '--trace'], '--trace is not a flag of `mpay demo`'],
      [['demo', '--fail', 'secret'], '--fail is not a flag of `mpay demo`'],
      [['demo', 'banking', '--level', 'large'], '--level is not a flag of `mpay demo banking`'],
      [['demo', '--data', 'macro', 'macro', '--custody'], '--custody is not a flag of `mpay demo macro`'],
      [['demo', '--custody', '--m-trade'], '--custody and --m-trade are two demos: name one'],
      [['up', '-data', '/tmp/x'], 'unknown flag -data (flags start with --)'],
      [['audit', '-verbose'], 'unknown flag -verbose (flags start with --)'],
      [['dispute', 'pay\u001b[2J', 'x'], 'unexpected argument x'],
      [['up', '--da\u001bta'], 'unknown flag --da\uFFFDta'],
    ] as const) {
      const [command, ...rest] = argv;
      expect(argumentProblem(command, rest), argv.join(' ')).toBe(reason);
    }
  });

  it('accepts what each command documents', () => {
    expect(argumentProblem('up', ['--data', '/srv/mpay', '--verbose', '--no-tls'])).toBeUndefined();
    expect(argumentProblem('up', ['--processes', '--data=/srv/mpay'])).toBeUndefined();
    expect(argumentProblem('up', ['--gateways', '2'])).toBeUndefined();
    const budget = ['--processes', '--restarts', '3', '--restart-window', '2'];
    expect(argumentProblem('up', budget)).toBeUndefined();
    // And the command reads them as values, not as switches followed by words.
    expect(parseFlags(budget, valueFlagsOf('up'))).toEqual({
      flags: new Map([
        ['processes', 'true'],
        ['restarts', '3'],
        ['restart-window', '2'],
      ]),
      positional: [],
    });
    expect(argumentProblem('demo', ['macro', '--fail', 'secret', '--trace'])).toBeUndefined();
    expect(argumentProblem('demo', ['--custody', '--out', 'evidence', '--level', 'large'])).toBeUndefined();
    expect(argumentProblem('demo', ['--out', 'macro', '--m-trade'])).toBeUndefined();
    expect(argumentProblem('demo', ['banking', '--data', '/srv/mpay'])).toBeUndefined();
    expect(argumentProblem('settlement', ['--book', '--json'])).toBeUndefined();
    expect(argumentProblem('dispute', ['pay_1', '--out', 'dispute.json'])).toBeUndefined();
    expect(argumentProblem('mail', ['client@example.org', '--json'])).toBeUndefined();
    // The commands that check their own arguments are not checked here.
    expect(argumentProblem('bench', ['e2e', '--anything'])).toBeUndefined();
    expect(argumentProblem('constructor', ['--anything'])).toBeUndefined();
  });

  it("every command's usage is found", () => {
    for (const command of ['up', 'demo', 'audit', 'settlement', 'dispute', 'mail', 'sms'])
      expect(usageOf(command), command).toMatch(new RegExp(`\\n {2}mpay ${command}\\b`));
  });
});

describe('a command that is not one', () => {
  it('is unknown, even when its name is an object property', async () => {
    for (const command of ['constructor', 'toString', '__proto__']) {
      const result = await run(command, '--help');
      expect(result.status, command).toBe(2);
      expect(result.stderr, command).toContain(`mpay: unknown command ${command}`);
    }
  });
});
