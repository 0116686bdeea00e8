import { describe, expect, it } from 'vitest';
import { isLoopbackHost, isSmsToken, messagesUrlOf, smsGatewayUrlProblem } from './api.ts';

describe('the gateway URL', () => {
  it.each([
    'https://sms.example',
    'https://sms.example/v1/',
    'http://127.0.0.1:4140',
    'http://localhost:4140/',
    'http://[::1]:4140',
  ])('accepts %s', (url) => {
    expect(smsGatewayUrlProblem(url)).toBeUndefined();
  });

  it.each([
    ['not a url', /http\(s\) URL/],
    ['ftp://sms.example', /http\(s\) URL/],
    ['file:///etc/passwd', /http\(s\) URL/],
    ['https://user:pass@sms.example', /no credentials/],
    ['https://sms.example/?key=1', /no credentials, query/],
    ['https://sms.example/#x', /fragment/],
    // The token would cross a network in clear.
    ['http://sms.example', /https unless the gateway is on loopback/],
    ['http://10.0.0.1:4140', /https unless/],
    ['http://127.0.0.1.example', /https unless/],
  ])('refuses %s', (url, problem) => {
    expect(smsGatewayUrlProblem(url)).toMatch(problem);
  });

  it('posts to /messages below the base URL, whatever its trailing slashes', () => {
    expect(messagesUrlOf('https://sms.example')).toBe('https://sms.example/messages');
    expect(messagesUrlOf('https://sms.example/v1//')).toBe('https://sms.example/v1/messages');
    expect(messagesUrlOf('http://127.0.0.1:4140/')).toBe('http://127.0.0.1:4140/messages');
  });

  it('knows loopback hosts', () => {
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]', '::1'])
      expect(isLoopbackHost(host)).toBe(true);
    for (const host of ['example', '10.0.0.1', '128.0.0.1', '::2', '127.0.0.1.example']) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
  });
});

describe('the bearer token', () => {
  it('is a b64token of 16..512 characters', () => {
    expect(isSmsToken('a'.repeat(16))).toBe(true);
    expect(isSmsToken(`${'A-._~+/9'.repeat(63)}a==`)).toBe(true);
    expect(isSmsToken('a'.repeat(15))).toBe(false);
    expect(isSmsToken('a'.repeat(513))).toBe(false);
    // Anything that could end the header or add another one.
    for (const token of [
      `${'a'.repeat(16)} x`,
      `${'a'.repeat(16)}\r\nX: y`,
      `${'a'.repeat(16)}"`,
      `=${'a'.repeat(16)}`,
    ]) {
      expect(isSmsToken(token), JSON.stringify(token)).toBe(false);
    }
    expect(isSmsToken(undefined)).toBe(false);
  });
});
