import { Worker } from "node:worker_threads";

type Thread = { worker: Worker; outstanding: number };
type Waiter = { resolve: (ok: boolean) => void; reject: (error: Error) => void };

/**
 * Verifies sr25519 signatures on worker threads, so signature checks (the largest cost of a signed
 * request) use the machine's other cores while the event loop parses, executes and answers.
 * Requests arriving in the same turn go to a thread as one batch; batches go to the thread with
 * the fewest signatures outstanding.
 */
export class SignaturePool {
  readonly #threads: Array<{ worker: Worker; outstanding: number }> = [];
  readonly #waiting = new Map<number, { thread: Thread; waiters: Waiter[] }>();
  #pending: Array<{ signature: Uint8Array; publicKey: Uint8Array; message: Uint8Array; waiter: Waiter }> = [];
  #scheduled = false;
  #nextId = 1;

  private constructor() {}

  static async start(threads: number): Promise<SignaturePool> {
    const pool = new SignaturePool();
    await Promise.all(
      Array.from({ length: Math.max(1, threads) }, async () => {
        const worker = new Worker(new URL("./signature-worker.mjs", import.meta.url));
        await new Promise<void>((resolve, reject) => {
          worker.once("message", () => resolve());
          worker.once("error", reject);
        });
        const thread: Thread = { worker, outstanding: 0 };
        worker.on("message", (reply: { id: number; ok: Uint8Array }) => {
          const entry = pool.#waiting.get(reply.id);
          if (!entry) return;
          pool.#waiting.delete(reply.id);
          thread.outstanding -= entry.waiters.length;
          entry.waiters.forEach((w, i) => w.resolve(reply.ok[i] === 1));
        });
        // A thread that dies fails what it held (those requests answer 500) and leaves the pool.
        worker.on("exit", () => {
          pool.#threads.splice(pool.#threads.indexOf(thread), 1);
          for (const [id, entry] of pool.#waiting) {
            if (entry.thread !== thread) continue;
            pool.#waiting.delete(id);
            for (const w of entry.waiters) w.reject(new Error("a signature thread stopped"));
          }
        });
        // The threads never keep the process alive on their own.
        worker.unref();
        pool.#threads.push(thread);
      }),
    );
    return pool;
  }

  get size(): number {
    return this.#threads.length;
  }

  /** True when `signature` (64 bytes) signs `message` (or its `<Bytes>` wrapping) for `publicKey` (32 bytes). */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): Promise<boolean> {
    if (this.#threads.length === 0) return Promise.reject(new Error("no signature threads are running"));
    return new Promise((resolve, reject) => {
      this.#pending.push({ signature, publicKey, message, waiter: { resolve, reject } });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    const n = batch.length;
    const signatures = new Uint8Array(n * 64);
    const publicKeys = new Uint8Array(n * 32);
    const ends = new Uint32Array(n);
    let total = 0;
    for (const item of batch) total += item.message.length;
    const messages = new Uint8Array(total);
    let at = 0;
    batch.forEach((item, i) => {
      signatures.set(item.signature, i * 64);
      publicKeys.set(item.publicKey, i * 32);
      messages.set(item.message, at);
      at += item.message.length;
      ends[i] = at;
    });
    const thread = this.#threads.reduce((a, b) => (b.outstanding < a.outstanding ? b : a), this.#threads[0] as Thread);
    const id = this.#nextId++;
    thread.outstanding += n;
    this.#waiting.set(id, { thread, waiters: batch.map((item) => item.waiter) });
    thread.worker.postMessage({ id, signatures, publicKeys, messages, ends }, [signatures.buffer, publicKeys.buffer, messages.buffer, ends.buffer]);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#threads].map((t) => t.worker.terminate()));
  }
}
