import { type FetchFunction, fetchSource, setFetchSource } from '@mpay/http-client';
import { afterEach, describe, expect, it } from 'vitest';
import { startPlainPlatformClient } from './plain-client.ts';

afterEach(() => setFetchSource(undefined));

describe("the plain platform client's place as the process's fetch source", () => {
  const sourceOf = (name: string) => {
    const fetchWith: FetchFunction = async () => new Response(name);
    return () => fetchWith;
  };

  it('puts back the source it replaced when it closes', async () => {
    const before = sourceOf('before');
    setFetchSource(before);
    const plain = startPlainPlatformClient();
    expect(fetchSource()).not.toBe(before);
    await plain.close();
    expect(fetchSource()).toBe(before);
  });

  it('leaves a source registered after it in place when it closes', async () => {
    const plain = startPlainPlatformClient();
    const later = sourceOf('later');
    setFetchSource(later);
    await plain.close();
    expect(fetchSource()).toBe(later);
  });
});
