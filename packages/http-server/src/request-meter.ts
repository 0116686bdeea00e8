/**
 * The requests each server of this process answered, by its name
 * (HttpServerOptions.name: `gateway`, a bank's name, `log`, …), counted as
 * they arrive (every request, a refused one too). Process-wide, as
 * @mpay/storage counts statements per schema: what `mpay bench e2e` reads at
 * its window's start and end to say how many requests a payment costs each
 * service. One map entry per server name; an increment per request.
 */
const answered = new Map<string, { count: number }>();

/** The counter of the servers named `name` in this process (two servers of one name share it). */
export function requestCounterOf(name: string): { count: number } {
  let counter = answered.get(name);
  if (counter === undefined) {
    counter = { count: 0 };
    answered.set(name, counter);
  }
  return counter;
}

/** A copy of every server name's count now; subtract two copies for a window. */
export function httpRequestCounts(): Record<string, number> {
  return Object.fromEntries([...answered].map(([name, counter]) => [name, counter.count]));
}
