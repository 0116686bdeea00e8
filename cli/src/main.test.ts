import { describe, expect, it } from 'vitest';
import { argumentProblem, main, usageOf } from './main.ts';

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
  it("prints the command's own usage and starts nothing", async () => {
    const up = await run('up', '--help');
    expect(up.status).toBe(0);
    expect(up.stdout).toContain('mpay up [--data DIR] [--verbose]');
    expect(up.stdout).toContain('mpay up --processes');
    expect(up.stdout).toContain('[--no-tls]');
    expect(up.stdout).not.toContain('mpay demo');
    const demo = await run('demo', 'macro', '-h');
    expect(demo.status).toBe(0);
    expect(demo.stdout).toContain('mpay demo macro --fail secret|balance|expiry|tries');
    expect(demo.stdout).not.toContain('mpay up');
  });
});

describe('arguments a command does not take', () => {
  it('are refused with exit 2 and the reason, before anything starts', async () => {
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
      [['up', '-data', '/tmp/x'], 'unknown flag -data (flags start with --)'],
      [['audit', '-verbose'], 'unknown flag -verbose (flags start with --)'],
      [['dispute', 'pay\u001b[2J', 'x'], 'unexpected argument x'],
      [['up', '--da\u001bta'], 'unknown flag --da\uFFFDta'],
    ] as const) {
      const result = await run(...argv);
      expect(result.status, argv.join(' ')).toBe(2);
      expect(result.stderr, argv.join(' ')).toContain(`mpay ${argv[0]}: ${reason}`);
      expect(result.stderr).toContain('Usage:');
      expect(result.stdout).toBe('');
    }
  });

  it('accepts what each command documents', () => {
    expect(argumentProblem('up', ['--data', '/srv/mpay', '--verbose', '--no-tls'])).toBeUndefined();
    expect(argumentProblem('up', ['--processes', '--data=/srv/mpay'])).toBeUndefined();
    expect(argumentProblem('up', ['--gateways', '2'])).toBeUndefined();
    expect(argumentProblem('demo', ['macro', '--fail', 'secret', '--trace'])).toBeUndefined();
    expect(argumentProblem('demo', ['--custody', '--out', 'evidence', '--level', 'large'])).toBeUndefined();
    expect(argumentProblem('settlement', ['--book', '--json'])).toBeUndefined();
    expect(argumentProblem('dispute', ['pay_1', '--out', 'dispute.json'])).toBeUndefined();
    expect(argumentProblem('mail', ['client@example.org', '--json'])).toBeUndefined();
    // The commands that check their own arguments are not checked here.
    expect(argumentProblem('bench', ['e2e', '--anything'])).toBeUndefined();
  });

  it("every command's usage is found", () => {
    for (const command of ['up', 'demo', 'audit', 'settlement', 'dispute', 'mail', 'sms'])
      expect(usageOf(command), command).toMatch(new RegExp(`\\n {2}mpay ${command}\\b`));
  });
});
