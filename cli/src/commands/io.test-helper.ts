import { main } from '../main.ts';

/** Runs `mpay ARGV…` in this process and returns its exit status and what it wrote. */
export async function runMpay(
  argv: readonly string[],
): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const status = await main([...argv], {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  });
  return { status, stdout, stderr };
}
