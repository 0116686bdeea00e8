import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseProcStat } from './proc-stat.ts';

describe('parseProcStat', () => {
  it('reads the fields after a command name with spaces and parentheses', () => {
    // A line as Linux writes it (proc(5)), with made-up values, each field its own.
    const fields = Array.from({ length: 52 - 2 }, (_, i) => String(i + 3));
    fields[0] = 'S';
    const line = `4242 (we (ird) name) ${fields.join(' ')}\n`;
    expect(parseProcStat(line)).toEqual({
      ppid: 4,
      userTicks: 14,
      kernelTicks: 15,
      childrenUserTicks: 16,
      childrenKernelTicks: 17,
      startTicks: 22,
    });
  });

  it('refuses what is not such a line', () => {
    expect(parseProcStat('')).toBeUndefined();
    expect(parseProcStat('4242 (short) S 1 2')).toBeUndefined();
  });

  it.runIf(process.platform === 'linux')(
    'reads this machine’s own /proc for a child it started',
    async () => {
      const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
      try {
        const stat = parseProcStat(readFileSync(`/proc/${child.pid}/stat`, 'utf8'));
        expect(stat?.ppid).toBe(process.pid);
        const own = parseProcStat(readFileSync(`/proc/${process.pid}/stat`, 'utf8'));
        // Started after this process, which has spent CPU already.
        expect(stat!.startTicks).toBeGreaterThanOrEqual(own!.startTicks);
        expect(own!.userTicks + own!.kernelTicks).toBeGreaterThan(0);
      } finally {
        child.kill();
      }
    },
  );
});
