/**
 * The wallet's storage on the phone: one IndexedDB database, one object store
 * of JSON-able values (and CryptoKey objects, which IndexedDB keeps without
 * exporting them) under string keys. Each section of the wallet uses its own
 * key prefix (`ims:`, `custody:`, `macro:`, `banking:`).
 */
const databaseName = 'mpay-wallet';
const storeName = 'values';

let opened: Promise<IDBDatabase> | undefined;

function database(): Promise<IDBDatabase> {
  opened ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(databaseName, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(storeName);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB did not open'));
  });
  return opened;
}

async function run<T>(
  mode: IDBTransactionMode,
  action: (store: IDBObjectStore) => IDBRequest<T>,
): Promise<T> {
  const db = await database();
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(storeName, mode);
    const request = action(transaction.objectStore(storeName));
    transaction.oncomplete = () => resolve(request.result);
    transaction.onabort = () => reject(transaction.error ?? new Error('IndexedDB transaction aborted'));
    transaction.onerror = () => reject(transaction.error ?? new Error('IndexedDB transaction failed'));
  });
}

/** The value under `key`, or undefined. */
export async function readValue<T>(key: string): Promise<T | undefined> {
  return (await run('readonly', (store) => store.get(key))) as T | undefined;
}

/** Stores `value` under `key` (durably: resolves once the transaction committed). */
export async function writeValue(key: string, value: unknown): Promise<void> {
  await run('readwrite', (store) => store.put(value, key));
}

export async function deleteValue(key: string): Promise<void> {
  await run('readwrite', (store) => store.delete(key));
}

/** Every key that starts with `prefix`. */
export async function keysWith(prefix: string): Promise<string[]> {
  const range = IDBKeyRange.bound(prefix, `${prefix}\uffff`);
  return ((await run('readonly', (store) => store.getAllKeys(range))) as IDBValidKey[]).map(String);
}
