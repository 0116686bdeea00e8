/**
 * The staff's sign-in: the shop's merchant token, kept in this tab's
 * sessionStorage only (never localStorage, never a cookie). Closing the tab
 * or "Sign out" forgets it.
 */
const tokenKey = 'mpay-till:merchant-token';
/** As the shop issues and accepts it (32..256 base64url characters). */
export const merchantTokenPattern = /^[A-Za-z0-9_-]{32,256}$/;

export function readToken(): string | undefined {
  try {
    const token = sessionStorage.getItem(tokenKey);
    return token !== null && merchantTokenPattern.test(token) ? token : undefined;
  } catch {
    return undefined;
  }
}

export function writeToken(token: string | undefined): void {
  if (token === undefined) sessionStorage.removeItem(tokenKey);
  else sessionStorage.setItem(tokenKey, token);
}
