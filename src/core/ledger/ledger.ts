import { AssertionFailure, assert, InsufficientBalanceError } from "../errors/errors.ts";
import { type AssetId, assetName, parseAsset } from "./asset.ts";

/** An interned (asset, owner) pair: an index into the ledger's cells. Build once, reuse. */
export type AccountHandle = number & { readonly __account: unique symbol };

/** Subtensor caps TAO issuance at 21M TAO; we cap every asset the same way. */
export const MAX_ISSUANCE = 21_000_000_000_000_000n;

// Per-asset running totals live in cells too, so one undo journal covers every write.
const ISSUANCE = 0;
const MINTED = 1;
const RECYCLED = 2;
const BURNED = 3;
const BALANCES = 4; // sum of account balances
const LIVE = 5; // sum of live credits
const COUNTERS = 6;

/**
 * Accounts fall in this many recount buckets (by the order they were made, see RECOUNT_RUN). Each asset keeps a
 * running total per bucket, updated with every balance change; a block recounts one bucket
 * against its totals, so every account is recounted at least once every RECOUNT_BUCKETS blocks
 * whatever the number of accounts, at about N / RECOUNT_BUCKETS additions per block.
 */
export const RECOUNT_BUCKETS = 256;
/**
 * Consecutive accounts share a bucket in runs of this many (bucket = floor(i / RUN) % BUCKETS),
 * so a bucket's recount reads runs of neighbouring cells rather than one cell in every 256.
 */
export const RECOUNT_RUN = 64;

/** The recount bucket of the i-th account (or stake pool) made. */
export function recountBucketOf(i: number): number {
  return Math.floor(i / RECOUNT_RUN) % RECOUNT_BUCKETS;
}
/** Cells an asset takes: its counters, then one running total per recount bucket. */
const ASSET_CELLS = COUNTERS + RECOUNT_BUCKETS;

export interface AssetTotals {
  asset: AssetId;
  issuance: bigint;
  minted: bigint;
  recycled: bigint;
  burned: bigint;
  balances: bigint;
  live: bigint;
}

export interface TotalsViolation {
  asset: AssetId;
  invariant:
    | "issuance_equals_balances"
    | "minted_equals_issuance_recycled_burned"
    | "issuance_cap"
    | "no_live_credit"
    | "recount";
  expected: bigint;
  actual: bigint;
}

export interface RecycledRemainder {
  asset: AssetId;
  amount: bigint;
}

export interface LedgerSnapshot {
  assets: Array<{ asset: string; minted: string; recycled: string; burned: string }>;
  /** [asset, owner, balance] for every non-zero balance, sorted by asset then owner. */
  accounts: Array<[string, string, string]>;
}

const INT64_MAX = (1n << 63n) - 1n;

const CREDIT_TOKEN = Symbol("credit");

/**
 * A linear claim on issued value not yet placed in an account (Substrate's Credit imbalance).
 * Made only by the ledger; spent exactly once by deposit, split, merge, recycle or burn.
 */
export class Credit {
  #amount: bigint;
  #live = true;
  readonly asset: AssetId;
  readonly #ledger: Ledger;

  /** @internal Only the ledger makes credits. */
  constructor(token: symbol, ledger: Ledger, asset: AssetId, amount: bigint) {
    if (token !== CREDIT_TOKEN) throw new AssertionFailure("credits are made only by the ledger");
    this.#ledger = ledger;
    this.asset = asset;
    this.#amount = amount;
  }

  get amount(): bigint {
    this.#assertLive();
    return this.#amount;
  }

  get live(): boolean {
    return this.#live;
  }

  /** Splits off `amount`: returns [that part, the rest]; this credit is spent. */
  split(amount: bigint): [Credit, Credit] {
    this.#assertLive();
    assert(amount >= 0n && amount <= this.#amount, `cannot split ${amount} from a credit of ${this.#amount}`);
    const rest = this.#amount - amount;
    this.#spend();
    return [this.#ledger[CREDIT_TOKEN](this.asset, amount), this.#ledger[CREDIT_TOKEN](this.asset, rest)];
  }

  /** Joins two credits of one asset into a new one; both are spent. */
  merge(other: Credit): Credit {
    this.#assertLive();
    assert(other !== this, "cannot merge a credit with itself");
    assert(other.asset === this.asset, "cannot merge credits of different assets");
    assert(other.#ledger === this.#ledger, "cannot merge credits of different ledgers");
    const sum = this.#amount + other.#take();
    this.#spend();
    return this.#ledger[CREDIT_TOKEN](this.asset, sum);
  }

  /** A zero credit may simply be dropped (FRAME's drop_zero). */
  dropZero(): void {
    this.#assertLive();
    assert(this.#amount === 0n, `cannot drop a credit of ${this.#amount}`);
    this.#spend();
  }

  /** @internal */
  [CREDIT_TOKEN](ledger: Ledger): bigint {
    assert(ledger === this.#ledger, "credit belongs to another ledger");
    return this.#take();
  }

  #take(): bigint {
    this.#assertLive();
    const amount = this.#amount;
    this.#spend();
    return amount;
  }

  #spend(): void {
    this.#live = false;
    this.#ledger.forgetCredit(this);
  }

  /** @internal Called on rollback: the credit's value went back with the cells. */
  kill(): void {
    this.#live = false;
  }

  #assertLive(): void {
    if (!this.#live) throw new AssertionFailure("credit already spent");
  }
}

/**
 * The value ledger: balances and per-asset running totals in one BigInt64Array, so that
 * transfers allocate nothing and each conservation identity is an O(1) comparison.
 *
 * Value changes only through these methods. Single-leg moves use `transfer`; multi-leg flows
 * mint or withdraw Credits and place them with `deposit`, `recycle` or `burn` inside a scope.
 */
export class Ledger {
  #cells = new BigInt64Array(1024);
  #size = 0;
  #assetOf = new Int32Array(1024);
  /** Per account cell: the cell holding the running total of its recount bucket. */
  #bucketCellOf = new Int32Array(1024);
  /** Per recount bucket: its accounts. */
  #bucketMembers: AccountHandle[][] = Array.from({ length: RECOUNT_BUCKETS }, () => []);
  #ownerOf: string[] = [];
  /** Per asset, owner -> handle: no key string is built per lookup. */
  #handles = new Map<AssetId, Map<string, AccountHandle>>();
  #accounts: AccountHandle[] = [];
  #counterBase = new Map<AssetId, number>();
  #assets: AssetId[] = [];

  // Undo journal: cell index and previous value, while a command executes.
  #journaling = false;
  #undoCells: number[] = [];
  #undoValues: bigint[] = [];

  #scope: string | null = null;
  #liveCredits = new Set<Credit>();
  /** Credits in creation order, so a savepoint can kill those made after it. */
  #creditLog: Credit[] = [];

  readonly strict: boolean;

  constructor(options: { strict?: boolean } = {}) {
    this.strict = options.strict ?? true;
  }

  // ---- accounts ----------------------------------------------------------------------------

  /** The interned handle of (asset, owner); created empty on first use. */
  account(asset: AssetId, owner: string): AccountHandle {
    let owners = this.#handles.get(asset);
    const found = owners?.get(owner);
    if (found !== undefined) return found;
    this.#ensureAsset(asset);
    if (!owners) this.#handles.set(asset, (owners = new Map()));
    const handle = this.#alloc() as AccountHandle;
    const bucket = recountBucketOf(this.#accounts.length);
    this.#assetOf[handle] = asset;
    this.#bucketCellOf[handle] = (this.#counterBase.get(asset) as number) + COUNTERS + bucket;
    this.#ownerOf[handle] = owner;
    owners.set(owner, handle);
    this.#accounts.push(handle);
    this.#bucketMembers[bucket]?.push(handle);
    return handle;
  }

  /** The handle of (asset, owner) if it was ever created; never creates one. */
  findAccount(asset: AssetId, owner: string): AccountHandle | undefined {
    return this.#handles.get(asset)?.get(owner);
  }

  balance(account: AccountHandle): bigint {
    return this.#cells[account] as bigint;
  }

  balanceOf(asset: AssetId, owner: string): bigint {
    const h = this.findAccount(asset, owner);
    return h === undefined ? 0n : this.balance(h);
  }

  /** The accounts in a recount bucket (do not modify the array). */
  bucketAccounts(bucket: number): readonly AccountHandle[] {
    return this.#bucketMembers[bucket] ?? [];
  }

  /** The recount bucket an account falls in (node-local: it follows the order accounts were made). */
  bucketOf(account: AccountHandle): number {
    return (this.#bucketCellOf[account] as number) - (this.#counterBase.get(this.assetOf(account)) as number) - COUNTERS;
  }

  assetOf(account: AccountHandle): AssetId {
    return this.#assetOf[account] as AssetId;
  }

  ownerOf(account: AccountHandle): string {
    return this.#ownerOf[account] as string;
  }

  get accountCount(): number {
    return this.#accounts.length;
  }

  /** Every asset the ledger has seen, ascending. */
  get assets(): readonly AssetId[] {
    return this.#assets;
  }

  // ---- single-leg moves ----------------------------------------------------------------------

  /** Moves `amount` between two accounts of one asset, atomically: all of it or nothing. */
  transfer(from: AccountHandle, to: AccountHandle, amount: bigint): void {
    const cells = this.#cells;
    assert(amount >= 0n, "transfer amount must not be negative");
    assert(this.#assetOf[from] === this.#assetOf[to], "transfer between different assets");
    const fromBalance = cells[from] as bigint;
    if (fromBalance < amount) {
      throw new InsufficientBalanceError(this.ownerOf(from), assetName(this.assetOf(from)), amount, fromBalance);
    }
    const fromBucket = this.#bucketCellOf[from] as number;
    const toBucket = this.#bucketCellOf[to] as number;
    if (this.#journaling) this.#remember4(from, to, fromBucket, toBucket);
    cells[from] = fromBalance - amount;
    cells[to] = (cells[to] as bigint) + amount;
    cells[fromBucket] = (cells[fromBucket] as bigint) - amount;
    cells[toBucket] = (cells[toBucket] as bigint) + amount;
  }

  // ---- credits -------------------------------------------------------------------------------

  /** Issues new value, capped so that issuance never exceeds MAX_ISSUANCE. */
  mint(asset: AssetId, amount: bigint): Credit {
    this.#assertInScope("mint");
    assert(amount >= 0n, "mint amount must not be negative");
    const base = this.#ensureAsset(asset);
    const room = MAX_ISSUANCE - this.#get(base + ISSUANCE);
    const minted = amount < room ? amount : room > 0n ? room : 0n;
    this.#assertCounterRoom(base + MINTED, minted);
    this.#add(base + ISSUANCE, minted);
    this.#add(base + MINTED, minted);
    this.#add(base + LIVE, minted);
    return this[CREDIT_TOKEN](asset, minted);
  }

  /** Takes `amount` out of an account as a Credit; InsufficientBalanceError changes nothing. */
  withdraw(account: AccountHandle, amount: bigint): Credit {
    this.#assertInScope("withdraw");
    assert(amount >= 0n, "withdraw amount must not be negative");
    const asset = this.assetOf(account);
    const available = this.balance(account);
    if (available < amount) {
      throw new InsufficientBalanceError(this.ownerOf(account), assetName(asset), amount, available);
    }
    const base = this.#counterBase.get(asset) as number;
    this.#addBalance(account, -amount);
    this.#add(base + BALANCES, -amount);
    this.#add(base + LIVE, amount);
    return this[CREDIT_TOKEN](asset, amount);
  }

  /** Places a credit into an account; the credit is spent. */
  deposit(account: AccountHandle, credit: Credit): void {
    assert(credit.asset === this.assetOf(account), "deposit of another asset");
    const amount = credit[CREDIT_TOKEN](this);
    const base = this.#counterBase.get(credit.asset) as number;
    this.#addBalance(account, amount);
    this.#add(base + BALANCES, amount);
    this.#add(base + LIVE, -amount);
  }

  /** Returns value to the unissued supply (lowers issuance; counted as recycled). */
  recycle(credit: Credit): bigint {
    return this.#retire(credit, RECYCLED);
  }

  /** Destroys value (lowers issuance; counted as burned). */
  burn(credit: Credit): bigint {
    return this.#retire(credit, BURNED);
  }

  #retire(credit: Credit, counter: number): bigint {
    const base = this.#counterBase.get(credit.asset) as number;
    this.#assertCounterRoom(base + counter, credit.amount);
    const amount = credit[CREDIT_TOKEN](this);
    this.#add(base + ISSUANCE, -amount);
    this.#add(base + counter, amount);
    this.#add(base + LIVE, -amount);
    return amount;
  }

  /** @internal */
  [CREDIT_TOKEN](asset: AssetId, amount: bigint): Credit {
    const credit = new Credit(CREDIT_TOKEN, this, asset, amount);
    this.#liveCredits.add(credit);
    if (this.#journaling) this.#creditLog.push(credit);
    return credit;
  }

  /** @internal */
  forgetCredit(credit: Credit): void {
    this.#liveCredits.delete(credit);
  }

  // ---- scopes and the undo journal -----------------------------------------------------------

  /** Opens the scope of one command; value may be in flight (as Credits) only inside it. */
  beginScope(name: string, options: { journal?: boolean } = {}): void {
    assert(this.#scope === null, `scope ${name} opened inside scope ${this.#scope}`);
    this.#scope = name;
    this.#journaling = options.journal ?? false;
    this.#undoCells.length = 0;
    this.#undoValues.length = 0;
  }

  /**
   * Closes the scope. A live credit here is a bug: in strict mode it throws (undoing a journaled
   * scope first); in production the remainder is recycled and returned so the caller records it
   * and raises a violation. `allowRemainders` is for replay, where a recorded remainder is expected.
   * A journal stays open until `undo` or `keep`.
   */
  endScope(options: { allowRemainders?: boolean } = {}): RecycledRemainder[] {
    assert(this.#scope !== null, "no scope to end");
    const remainders: RecycledRemainder[] = [];
    if (this.#liveCredits.size === 0) {
      this.#scope = null;
      return remainders;
    }
    const scope = this.#scope;
    const live = [...this.#liveCredits];
    if (live.some((c) => c.amount !== 0n) && this.strict && !options.allowRemainders) {
      const described = live.map((c) => `${c.amount} ${assetName(c.asset)}`).join(", ");
      this.abort();
      throw new AssertionFailure(`scope ${scope} ended with live credit(s): ${described}`);
    }
    const byAsset = new Map<AssetId, bigint>();
    for (const credit of live) {
      const amount = this.recycle(credit);
      if (amount !== 0n) byAsset.set(credit.asset, (byAsset.get(credit.asset) ?? 0n) + amount);
    }
    for (const asset of [...byAsset.keys()].sort((a, b) => a - b)) {
      remainders.push({ asset, amount: byAsset.get(asset) as bigint });
    }
    this.#scope = null;
    return remainders;
  }

  /**
   * Abandons the scope. Journaled: every write is undone and live credits die with it.
   * Unjournaled (replay): nothing can be undone, so live credits are recycled and counted rather
   * than left stranded in the live total.
   */
  abort(): void {
    if (this.#journaling) {
      for (const credit of this.#liveCredits) credit.kill();
      this.#liveCredits.clear();
      this.#scope = null;
      this.undo();
      return;
    }
    for (const credit of [...this.#liveCredits]) this.recycle(credit);
    this.#scope = null;
  }

  /** A point inside a journaled scope to roll back to (a failed extrinsic inside a block). */
  savepoint(): { cells: number; credits: number } {
    assert(this.#journaling, "savepoint outside a journaled scope");
    return { cells: this.#undoCells.length, credits: this.#creditLog.length };
  }

  /** Undoes the writes since the savepoint; credits made since then die with them. */
  rollbackTo(savepoint: { cells: number; credits: number }): void {
    const cells = this.#cells;
    for (let i = this.#undoCells.length - 1; i >= savepoint.cells; i--) {
      cells[this.#undoCells[i] as number] = this.#undoValues[i] as bigint;
    }
    this.#undoCells.length = savepoint.cells;
    this.#undoValues.length = savepoint.cells;
    for (const credit of this.#creditLog.splice(savepoint.credits)) {
      if (credit.live) {
        credit.kill();
        this.#liveCredits.delete(credit);
      }
    }
  }

  /** Undoes every journaled write since beginScope and closes the journal. */
  undo(): void {
    assert(this.#scope === null, "undo inside an open scope");
    const cells = this.#cells;
    for (let i = this.#undoCells.length - 1; i >= 0; i--) {
      cells[this.#undoCells[i] as number] = this.#undoValues[i] as bigint;
    }
    this.keep();
  }

  /** Keeps every journaled write and closes the journal. */
  keep(): void {
    this.#undoCells.length = 0;
    this.#undoValues.length = 0;
    this.#creditLog.length = 0;
    this.#journaling = false;
  }

  /**
   * The cells the journal saw change, as cell -> value now, leaving out cells that came back to
   * where they started. Two runs with equal diffs had exactly the same effect on the ledger.
   */
  journalDiff(): Map<number, bigint> {
    const before = new Map<number, bigint>();
    for (let i = 0; i < this.#undoCells.length; i++) {
      const cell = this.#undoCells[i] as number;
      if (!before.has(cell)) before.set(cell, this.#undoValues[i] as bigint);
    }
    const out = new Map<number, bigint>();
    for (const [cell, was] of before) {
      const now = this.#cells[cell] as bigint;
      if (now !== was) out.set(cell, now);
    }
    return out;
  }

  /** Names a cell for messages: an account, or an asset's running total. */
  describeCell(cell: number): string {
    const owner = this.#ownerOf[cell];
    if (owner !== undefined) return `${assetName(this.assetOf(cell as AccountHandle))}:${owner}`;
    for (const [asset, base] of this.#counterBase) {
      if (cell >= base && cell < base + COUNTERS) {
        const names = ["issuance", "minted", "recycled", "burned", "balances", "live"];
        return `${assetName(asset)}.${names[cell - base]}`;
      }
      if (cell >= base + COUNTERS && cell < base + ASSET_CELLS) return `${assetName(asset)}.bucket[${cell - base - COUNTERS}]`;
    }
    return `cell ${cell}`;
  }

  get inScope(): boolean {
    return this.#scope !== null;
  }

  get liveCreditCount(): number {
    return this.#liveCredits.size;
  }

  // ---- invariants ----------------------------------------------------------------------------

  totals(asset: AssetId): AssetTotals {
    const base = this.#counterBase.get(asset);
    if (base === undefined) return { asset, issuance: 0n, minted: 0n, recycled: 0n, burned: 0n, balances: 0n, live: 0n };
    const c = this.#cells;
    return {
      asset,
      issuance: c[base + ISSUANCE] as bigint,
      minted: c[base + MINTED] as bigint,
      recycled: c[base + RECYCLED] as bigint,
      burned: c[base + BURNED] as bigint,
      balances: c[base + BALANCES] as bigint,
      live: c[base + LIVE] as bigint,
    };
  }

  /** The O(1) identities for one asset, from running totals. */
  checkAsset(asset: AssetId): TotalsViolation[] {
    const t = this.totals(asset);
    const out: TotalsViolation[] = [];
    if (t.issuance !== t.balances + t.live) {
      out.push({ asset, invariant: "issuance_equals_balances", expected: t.issuance, actual: t.balances + t.live });
    }
    if (t.minted !== t.issuance + t.recycled + t.burned) {
      out.push({
        asset,
        invariant: "minted_equals_issuance_recycled_burned",
        expected: t.minted,
        actual: t.issuance + t.recycled + t.burned,
      });
    }
    if (this.#scope === null && t.live !== 0n) {
      out.push({ asset, invariant: "no_live_credit", expected: 0n, actual: t.live });
    }
    if (t.issuance > MAX_ISSUANCE || t.issuance < 0n) {
      out.push({ asset, invariant: "issuance_cap", expected: MAX_ISSUANCE, actual: t.issuance });
    }
    return out;
  }

  /** The O(1) identities for every asset. */
  checkTotals(): TotalsViolation[] {
    return this.#assets.flatMap((a) => this.checkAsset(a));
  }

  /**
   * O(N): recounts every account of `asset` (every asset when absent) against the running totals:
   * the sum of its balances against its balances total, else the first bucket whose sum differs
   * from its bucket total (at most one `recount` violation per asset); then the O(1) identities.
   */
  recount(asset?: AssetId): TotalsViolation[] {
    const assets = asset === undefined ? this.#assets : this.#assets.filter((a) => a === asset);
    const counted = new Map<AssetId, bigint>(assets.map((a) => [a, 0n]));
    const firstBucket = new Map<AssetId, TotalsViolation>();
    for (let bucket = 0; bucket < RECOUNT_BUCKETS; bucket++) {
      const [violations, sums] = this.#recountBucket(bucket, asset);
      for (const [a, sum] of sums) counted.set(a, (counted.get(a) ?? 0n) + sum);
      for (const v of violations) if (!firstBucket.has(v.asset)) firstBucket.set(v.asset, v);
    }
    const out: TotalsViolation[] = [];
    for (const a of assets) {
      const { balances } = this.totals(a);
      const sum = counted.get(a) ?? 0n;
      const inBucket = firstBucket.get(a);
      if (sum !== balances) out.push({ asset: a, invariant: "recount", expected: balances, actual: sum });
      else if (inBucket) out.push(inBucket);
    }
    return [...out, ...assets.flatMap((a) => this.checkAsset(a))];
  }

  /**
   * Recounts one bucket: for each asset (or only `asset`), the sum of its accounts in the bucket
   * against the bucket's running total. A balance written behind the ledger's back shows up here.
   * O(N / RECOUNT_BUCKETS); checking never changes state.
   */
  recountBucket(bucket: number, asset?: AssetId): TotalsViolation[] {
    assert(Number.isInteger(bucket) && bucket >= 0 && bucket < RECOUNT_BUCKETS, `no recount bucket ${bucket}`);
    return this.#recountBucket(bucket, asset)[0];
  }

  #recountBucket(bucket: number, asset: AssetId | undefined): [TotalsViolation[], Map<AssetId, bigint>] {
    const sums = new Map<AssetId, bigint>();
    for (const h of this.#bucketMembers[bucket] as AccountHandle[]) {
      const a = this.#assetOf[h] as AssetId;
      if (asset === undefined || a === asset) sums.set(a, (sums.get(a) ?? 0n) + (this.#cells[h] as bigint));
    }
    const out: TotalsViolation[] = [];
    for (const a of this.#assets) {
      if (asset !== undefined && a !== asset) continue;
      const expected = this.#cells[this.#bucketCell(a, bucket)] as bigint;
      const counted = sums.get(a) ?? 0n;
      if (counted !== expected) out.push({ asset: a, invariant: "recount", expected, actual: counted });
    }
    return [out, sums];
  }

  // ---- snapshots -----------------------------------------------------------------------------

  /** A canonical, sorted encoding of the ledger: the same state always gives the same bytes. */
  exportSnapshot(): LedgerSnapshot {
    // Interning is not state: a refused command may intern an asset or account that replay never
    // sees, so only assets with history and non-zero balances are encoded.
    const assets = this.#assets.filter((a) => {
      const t = this.totals(a);
      return t.minted !== 0n || t.recycled !== 0n || t.burned !== 0n;
    });
    const accounts: Array<[AssetId, string, bigint]> = [];
    for (const h of this.#accounts) {
      const b = this.balance(h);
      if (b !== 0n) accounts.push([this.assetOf(h), this.ownerOf(h), b]);
    }
    accounts.sort((x, y) => x[0] - y[0] || (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0));
    return {
      assets: assets.map((asset) => {
        const t = this.totals(asset);
        return {
          asset: assetName(asset),
          minted: t.minted.toString(),
          recycled: t.recycled.toString(),
          burned: t.burned.toString(),
        };
      }),
      accounts: accounts.map(([a, o, b]) => [assetName(a), o, b.toString()]),
    };
  }

  static fromSnapshot(snapshot: LedgerSnapshot, options: { strict?: boolean } = {}): Ledger {
    const ledger = new Ledger(options);
    const assetOf = (name: string): AssetId => {
      const asset = parseAsset(name);
      if (asset === null) throw new AssertionFailure(`snapshot names an unknown asset: ${name}`);
      return asset;
    };
    for (const a of snapshot.assets) {
      const base = ledger.#ensureAsset(assetOf(a.asset));
      const minted = BigInt(a.minted);
      const recycled = BigInt(a.recycled);
      const burned = BigInt(a.burned);
      ledger.#cells[base + MINTED] = minted;
      ledger.#cells[base + RECYCLED] = recycled;
      ledger.#cells[base + BURNED] = burned;
      ledger.#cells[base + ISSUANCE] = minted - recycled - burned;
    }
    for (const [name, owner, balance] of snapshot.accounts) {
      const asset = assetOf(name);
      const h = ledger.account(asset, owner);
      const b = BigInt(balance);
      ledger.#cells[h] = b;
      const base = ledger.#counterBase.get(asset) as number;
      ledger.#cells[base + BALANCES] = (ledger.#cells[base + BALANCES] as bigint) + b;
      const bucket = ledger.#bucketCellOf[h] as number;
      ledger.#cells[bucket] = (ledger.#cells[bucket] as bigint) + b;
    }
    return ledger;
  }

  // ---- fault injection (tests of the invariant machinery only) ------------------------------

  /**
   * Writes a cell behind the ledger's back, as a bug elsewhere would. Exists so that tests can
   * prove each invariant fires; nothing in src/ outside tests calls it.
   */
  corruptForTest(account: AccountHandle, balance: bigint): void {
    this.#cells[account] = balance;
  }

  // ---- internals -----------------------------------------------------------------------------

  #ensureAsset(asset: AssetId): number {
    let base = this.#counterBase.get(asset);
    if (base === undefined) {
      base = this.#alloc();
      for (let i = 1; i < ASSET_CELLS; i++) this.#alloc();
      this.#counterBase.set(asset, base);
      this.#assets.push(asset);
      this.#assets.sort((a, b) => a - b);
    }
    return base;
  }

  #alloc(): number {
    if (this.#size === this.#cells.length) {
      const cells = new BigInt64Array(this.#cells.length * 2);
      cells.set(this.#cells);
      this.#cells = cells;
      const assetOf = new Int32Array(this.#assetOf.length * 2);
      assetOf.set(this.#assetOf);
      this.#assetOf = assetOf;
      const bucketCellOf = new Int32Array(this.#bucketCellOf.length * 2);
      bucketCellOf.set(this.#bucketCellOf);
      this.#bucketCellOf = bucketCellOf;
    }
    return this.#size++;
  }

  #bucketCell(asset: AssetId, bucket: number): number {
    return (this.#counterBase.get(asset) as number) + COUNTERS + bucket;
  }

  /** An account's balance and its recount bucket's total move together. */
  #addBalance(account: AccountHandle, delta: bigint): void {
    this.#add(account, delta);
    this.#add(this.#bucketCellOf[account] as number, delta);
  }

  #get(cell: number): bigint {
    return this.#cells[cell] as bigint;
  }

  #add(cell: number, delta: bigint): void {
    if (this.#journaling) {
      this.#undoCells.push(cell);
      this.#undoValues.push(this.#cells[cell] as bigint);
    }
    this.#cells[cell] = (this.#cells[cell] as bigint) + delta;
  }

  /** Cumulative counters only grow; a BigInt64Array would wrap silently past 2^63 - 1. Checked before any write. */
  #assertCounterRoom(cell: number, delta: bigint): void {
    if ((this.#cells[cell] as bigint) + delta > INT64_MAX) {
      throw new AssertionFailure(`${this.describeCell(cell)} would pass 2^63 - 1 rao`);
    }
  }

  #remember4(a: number, b: number, c: number, d: number): void {
    const cells = this.#cells;
    this.#undoCells.push(a, b, c, d);
    this.#undoValues.push(cells[a] as bigint, cells[b] as bigint, cells[c] as bigint, cells[d] as bigint);
  }

  #assertInScope(op: string): void {
    if (this.#scope === null) throw new AssertionFailure(`${op} outside a scope`);
  }
}
