export async function main(argv: string[]): Promise<number> {
  process.stdout.write(`mpay: ${argv.join(' ')}\n`);
  return 0;
}
