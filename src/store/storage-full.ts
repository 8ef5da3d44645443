/**
 * The disk (or the quota) holding the log is full. A commit that fails this way wrote nothing:
 * SQLite rolled the transaction back, so the node can answer 503 STORAGE_FULL and go on.
 */
export class StorageFullError extends Error {
  override readonly name = "StorageFullError";
  readonly code = "STORAGE_FULL";
}

/**
 * The error codes that mean "no space": SQLite's SQLITE_FULL (what its unix VFS returns for a
 * write that hit ENOSPC), the errno itself, a quota, and our own STORAGE_FULL.
 */
const FULL_CODES = new Set(["STORAGE_FULL", "SQLITE_FULL", "ENOSPC", "EDQUOT"]);
const FULL_MESSAGE = /database or disk is full|no space left on device|disk quota exceeded/i;

/** Whether a failed write failed for lack of space (and so left nothing behind). */
export function isStorageFull(error: unknown): boolean {
  if (error instanceof StorageFullError) return true;
  if (typeof error !== "object" || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && FULL_CODES.has(code)) return true;
  const message = (error as { message?: unknown }).message;
  return typeof message === "string" && FULL_MESSAGE.test(message);
}

/**
 * A write that failed before the commit record was complete: may be a full disk in disguise (the
 * node checks the free space to decide). Only a failed write: after an fsync failure
 * (SQLITE_IOERR_FSYNC) the whole transaction may already be in the WAL, so "not recorded" would
 * be a promise the next start could break; those stay fatal, and restart decides from the log.
 */
export function isIoError(error: unknown): boolean {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  return code === "SQLITE_IOERR_WRITE" || code === "SQLITE_IOERR_SHORT_WRITE";
}

/** The error a failed commit rejects with: a StorageFullError when there was no space, else one carrying SQLite's code. */
export function commitError(message: string, code: string | undefined): Error {
  const text = `commit failed: ${message}`;
  if (isStorageFull({ code, message })) return new StorageFullError(text);
  return Object.assign(new Error(text), { code });
}
