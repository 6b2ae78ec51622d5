import { AppError } from '../core/errors.js';
import type { Page, PageRequest } from '../agents/types.js';

/** Opaque list cursors (`{ items, nextCursor }`, docs/architecture.md#http-api-conventions): the last key seen, base64url. */
export function encodeCursor(key: string | number): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor<T extends string | number>(cursor: string | undefined, kind: 'string' | 'number'): T | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof value === kind) return value as T;
  } catch {
    // fall through to the error below
  }
  throw new AppError('BAD_REQUEST', 'cursor is not valid; pass back a nextCursor from an earlier page');
}

/** Rows were fetched with limit + 1: the extra row only says there is a next page. */
export function toPage<R, T>(rows: R[], page: PageRequest, map: (r: R) => T, key: (r: R) => string | number): Page<T> {
  const hasMore = rows.length > page.limit;
  const kept = hasMore ? rows.slice(0, page.limit) : rows;
  const last = kept[kept.length - 1];
  return { items: kept.map(map), nextCursor: hasMore && last !== undefined ? encodeCursor(key(last)) : null };
}
