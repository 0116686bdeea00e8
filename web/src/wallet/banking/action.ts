import { useState } from 'preact/hooks';
import { type BankingPhone, sessionEnded } from './phone.ts';

/**
 * One request of the logged-in customer, with its busy flag and its error.
 * A session the bank ended (expired, idle, closed by a renewal or a
 * revocation) is not this panel's error: the customer goes back to the login,
 * which shows why.
 */
export function useBankingAction(phone: BankingPhone, onSessionEnded: (error: unknown) => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const run = async <T>(action: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(undefined);
    try {
      return await action();
    } catch (failure) {
      if (sessionEnded(phone, failure)) onSessionEnded(failure);
      else setError(failure);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}
