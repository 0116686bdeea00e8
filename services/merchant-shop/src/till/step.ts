import type { Sql } from '@mpay/storage';
import type { ShopContext } from '../context.ts';
import { type SaleEventKind, stepSale } from './state-machine.ts';
import { findSale, persistSaleStep, type Sale, type SaleStepRecord } from './store.ts';

/** Steps the sale under its lock, in its own transaction; a step the state ignores changes nothing. */
export async function stepLocked(
  context: ShopContext,
  saleId: string,
  event: SaleEventKind,
  record: SaleStepRecord,
  guard?: (sale: Sale) => boolean,
): Promise<Sale | undefined> {
  const now = context.clock();
  return context.database.transaction(async (sql: Sql) => {
    const sale = await findSale(sql, saleId, { lock: true });
    if (sale === undefined) return undefined;
    if (guard !== undefined && !guard(sale)) return sale;
    const result = stepSale(sale.state, event);
    if (!result.changed) return sale;
    await persistSaleStep(sql, sale, event, result, record, now);
    return findSale(sql, saleId);
  });
}
