import { ThreadedSqliteStore } from "./sqlite/threaded-sqlite-store.ts";
import type { Store, StoreConfig } from "./store.ts";

/**
 * The one way above src/store/ to get a writable log: the backend is chosen by configuration,
 * never by name at the call site. PostgreSQL is imported only when asked for, so an embedded
 * node never loads pg.
 */
export async function openStore(config: StoreConfig): Promise<Store> {
  if (config.backend === "sqlite") return ThreadedSqliteStore.open(config.path);
  return (await import("./postgres/postgres-store.ts")).PostgresStore.open(config);
}
