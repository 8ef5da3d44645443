/**
 * Durability through HTTP (issue 4, "Tests"): the real `propnet serve` process (spawned as
 * `node bin/propnet.js serve`, which registers tsx and imports the CLI in the same process: the
 * pid we SIGKILL is the server itself, not a wrapper) takes many concurrent signed
 * `POST /v1/entities/{hotkey}/subaccounts`; we SIGKILL it at a seed-chosen moment while creations
 * are in flight, restart it on the same data directory (same port) and check over HTTP that:
 * - every creation answered 201 before the kill is there, with the same id and subaccount_uuid;
 * - ids are dense 0..next_id-1, each once, no two acknowledgements share an id, and nothing was
 *   created that no request asked for; the reserves add up and nothing was slashed;
 * - re-sending the exact bytes and headers of every request of the round (acknowledged or not) is
 *   refused as 401 REQUEST_REPLAYED or SIGNATURE_EXPIRED for every acknowledged one, and creates
 *   nothing; an unacknowledged one may only be accepted if it was never committed.
 * Requests are signed with timestamp = now + 1,500 ms, so they are still inside the window right
 * after a fast restart. After the last round the killed directory is opened in-process: every
 * acknowledged request's Epistula uuid is in the log exactly once (what `serve` reads back on start
 * with `requestUuidsSince`), a verifier primed the way `serve` primes it refuses the replays as
 * REQUEST_REPLAYED, and `verify --full` agrees with recovery.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { afterAll, describe, expect, it } from "vitest";
import { EPISTULA_FUTURE_MS, EPISTULA_PAST_MS, EpistulaVerifier, epistulaReady } from "../../src/epistula/epistula.ts";
import { epistulaHeaders } from "../../src/epistula/epistula.ts";
import { DomainError } from "../../src/core/errors/errors.ts";
import { stateHash } from "../../src/core/machine/state.ts";
import { prng } from "../../src/core/random/prng.ts";
import { PropnetNode } from "../../src/node/node.ts";
import { verifyLog } from "../../src/node/verify.ts";
import { freePort } from "../support/processes.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../..");
const BIN = join(ROOT, "bin", "propnet.js");
const TAO_RAO = 1_000_000_000n;
const DEPOSIT_RAO = 1_000n * TAO_RAO;
/** 1,000 USD reserves 0.4 TAO: 1,000 TAO covers far more than the 500 active allowed. */
const ACCOUNT_SIZE_USD = 1_000;
const RESERVE_RAO = 400_000_000n;
const KILLS = 3;
/** Creation requests in flight at any moment. */
const CONCURRENCY = 24;
/** Ahead of our clock, inside the +2,000 ms the server allows: the replay stays valid longer. */
const SIGN_AHEAD_MS = Number(process.env.SIGN_AHEAD_MS ?? 1_500);
const READY_TIMEOUT_MS = 30_000;
const SEED = Number(process.env.DURABILITY_SEED ?? 7);

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}


const everyServer = new Set<Server>();
const tempDirs: string[] = [];

afterAll(() => {
  for (const s of everyServer) s.child.kill("SIGKILL");
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** One `propnet serve` process. */
class Server {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  #stderr = "";

  constructor(
    readonly dataDir: string,
    readonly port: number,
  ) {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
    delete env.PROPNET_HOST;
    delete env.PROPNET_PORT;
    const args = [BIN, "serve", "--no-demo", "--block-time", "0", "--rate-limit", "off", "--data", dataDir, "--port", String(port)];
    this.child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "ignore", "pipe"] });
    everyServer.add(this);
    this.child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      this.#stderr += chunk;
    });
    this.exited = new Promise((ok) => {
      this.child.once("close", (code, signal) => {
        everyServer.delete(this);
        ok({ code, signal });
      });
    });
  }

  get stderr(): string {
    return this.#stderr;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Until it has replayed its log and serves requests ("ready at seq N" on stderr). */
  async ready(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!/ready at seq \d+/.test(this.#stderr)) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`server exited before ready:\n${this.#stderr}`);
      if (Date.now() > deadline) throw new Error(`server not ready in ${READY_TIMEOUT_MS} ms:\n${this.#stderr}`);
      await new Promise((ok) => setTimeout(ok, 20));
    }
    // The process we signal must be the server itself (bin/propnet.js imports the CLI in-process).
    const cmdline = readFileSync(`/proc/${this.child.pid}/cmdline`, "utf8").split("\0");
    expect(cmdline.slice(1, 3)).toEqual([BIN, "serve"]);
  }

  async kill(): Promise<void> {
    this.child.kill("SIGKILL");
    const exit = await this.exited;
    expect(exit.signal, `server did not die of our SIGKILL:\n${this.#stderr}`).toBe("SIGKILL");
  }
}

interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
  text: string;
}

async function send(base: string, method: string, path: string, body: string | undefined, headers: Record<string, string>): Promise<Answer> {
  const h = body === undefined ? headers : { ...headers, "content-type": "application/json" };
  const res = await fetch(`${base}${path}`, { method, headers: h, body, signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, json, text };
}

/** A signed request, signed just before sending (timestamp SIGN_AHEAD_MS ahead). */
function signed(base: string, by: KeyringPair, method: string, path: string, body?: unknown): Promise<Answer> {
  const raw = body === undefined ? undefined : JSON.stringify(body);
  return send(base, method, path, raw, epistulaHeaders(by, raw ?? "", Date.now() + SIGN_AHEAD_MS));
}

/** One creation request, kept byte for byte so it can be sent again after the restart. */
interface Creation {
  round: number;
  body: string;
  headers: Record<string, string>;
  /** HTTP status of the first send; null when no answer came (killed, refused connection). */
  status: number | null;
  /** From a 201. */
  id?: number;
  subaccountUuid?: string;
  failure?: string;
}

interface SubaccountView {
  subaccount_id: number;
  subaccount_uuid: string;
  synthetic_hotkey: string;
  status: string;
  collateral_reserved_rao: string;
}

interface EntityView {
  entity_hotkey: string;
  next_subaccount_id: number;
  active_subaccounts: number;
  eliminated_subaccounts: number;
  frozen: boolean;
  collateral: { deposited_rao: string; free_rao: string; reserved_rao: string; slashed_rao: string };
  subaccounts: SubaccountView[];
}

describe("durability through HTTP: SIGKILL the server while subaccounts are being created", () => {
  it(`keeps every acknowledged subaccount and refuses every replay (${KILLS} kills)`, { timeout: 90_000 }, async () => {
    const started = performance.now();
    await cryptoWaitReady();
    const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
    const alice = keyring.addFromUri("//Alice");
    const entity = keyring.addFromUri("//Alice//e1");
    const hotkey = entity.address;
    const dataDir = mkdtempSync(join(tmpdir(), "propnet-http-durability-"));
    tempDirs.push(dataDir);
    const port = await freePort();
    const rand = prng(SEED * 2654435761);
    const lines: string[] = [];

    let server = new Server(dataDir, port);
    await server.ready();

    // ---- an entity with collateral, over signed HTTP -------------------------------------------
    for (const [call, args] of [
      ["subtensor.burned_register", { netuid: 1, hotkey }],
      ["collateral.deposit", { hotkey, amount_rao: DEPOSIT_RAO.toString() }],
    ] as const) {
      const a = await signed(server.base, alice, "POST", "/v1/chain/extrinsics", { call, args });
      expect(a.status, `${call}: ${a.text}`).toBe(200);
    }
    const registered = await signed(server.base, entity, "POST", "/v1/entities", {});
    expect(registered.status, registered.text).toBe(201);

    const getEntity = async (base: string): Promise<EntityView> => {
      const a = await signed(base, entity, "GET", `/v1/entities/${hotkey}`);
      expect(a.status, a.text).toBe(200);
      return a.json.entity as EntityView;
    };

    const all: Creation[] = [];
    /** id -> the acknowledged creation that got it. */
    const ackedById = new Map<number, Creation>();
    const path = `/v1/entities/${hotkey}/subaccounts`;
    const replayCodes = new Map<string, number>();
    let replaysAccepted = 0;

    for (let round = 0; round < KILLS; round++) {
      // ---- creations in flight; SIGKILL at a seed-chosen moment ---------------------------------
      const minAcks = 5 + Math.floor(rand() * 60);
      const delayMs = Math.floor(rand() * 25);
      const base = server.base;
      const current = server;
      let stopped = false;
      let acks = 0;
      let killing: Promise<void> | null = null;
      // Workers keep sending until the signal is out, so requests are in flight when it lands.
      const kill = () => {
        killing ??= current.kill();
        stopped = true;
      };
      const watchdog = setTimeout(kill, 20_000);
      const worker = async () => {
        while (!stopped) {
          const body = JSON.stringify({ account_size_usd: ACCOUNT_SIZE_USD });
          const c: Creation = { round, body, headers: epistulaHeaders(entity, body, Date.now() + SIGN_AHEAD_MS), status: null };
          all.push(c);
          try {
            const a = await send(base, "POST", path, body, c.headers);
            c.status = a.status;
            if (a.status === 201) {
              c.id = a.json.subaccount.subaccount_id as number;
              c.subaccountUuid = a.json.subaccount.subaccount_uuid as string;
              if (ackedById.has(c.id)) expect.fail(`round ${round}: id ${c.id} acknowledged twice`);
              ackedById.set(c.id, c);
              acks++;
              if (acks === minAcks) setTimeout(kill, delayMs);
            } else {
              c.failure = a.text;
            }
          } catch (error) {
            c.failure = String((error as Error).cause ?? error);
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      clearTimeout(watchdog);
      await killing;
      const mine = all.filter((c) => c.round === round);
      const acked = mine.filter((c) => c.status === 201);
      const unanswered = mine.filter((c) => c.status === null);
      const refused = mine.filter((c) => c.status !== null && c.status !== 201);
      // Before the kill nothing may be refused: the limit (500) and the collateral are far away.
      expect(refused.map((c) => `${c.status} ${c.failure}`)).toEqual([]);

      // ---- restart on the same directory; replay every request of the round at once --------------
      const killedAt = Date.now();
      server = new Server(dataDir, port);
      await server.ready();
      const restartMs = Date.now() - killedAt;
      const before = await getEntity(server.base);
      const replays = await Promise.all(mine.map((c) => send(server.base, "POST", path, c.body, c.headers)));
      const after = await getEntity(server.base);
      let acceptedNow = 0;
      mine.forEach((c, k) => {
        const r = replays[k] as Answer;
        if (r.status === 201) {
          // Only a request that never reached the log may be accepted now (its uuid was never used).
          expect(c.status, `round ${round}: an acknowledged request was accepted again: ${r.text}`).not.toBe(201);
          acceptedNow++;
          return;
        }
        expect(r.status, r.text).toBe(401);
        const code = r.json?.error?.code as string;
        expect(["REQUEST_REPLAYED", "SIGNATURE_EXPIRED"], r.text).toContain(code);
        if (c.status === 201) replayCodes.set(code, (replayCodes.get(code) ?? 0) + 1);
      });
      replaysAccepted += acceptedNow;
      // The replays changed nothing (apart from the unacknowledged ones accepted, if any).
      expect(after.next_subaccount_id).toBe(before.next_subaccount_id + acceptedNow);
      expect(after.subaccounts.slice(0, before.subaccounts.length)).toEqual(before.subaccounts);

      // ---- every acknowledged subaccount is there; ids dense; reserves add up ----------------------
      const e = before;
      expect(e.entity_hotkey).toBe(hotkey);
      expect(e.frozen).toBe(false);
      expect(e.subaccounts.map((s) => s.subaccount_id)).toEqual(Array.from({ length: e.next_subaccount_id }, (_, i) => i));
      expect(new Set(e.subaccounts.map((s) => s.subaccount_uuid)).size).toBe(e.next_subaccount_id);
      expect(e.active_subaccounts + e.eliminated_subaccounts).toBe(e.next_subaccount_id);
      expect(e.eliminated_subaccounts).toBe(0);
      const missing: string[] = [];
      for (const [id, c] of ackedById) {
        const s = e.subaccounts[id];
        if (!s || s.subaccount_uuid !== c.subaccountUuid || s.synthetic_hotkey !== `${hotkey}_${id}` || s.status !== "active") {
          missing.push(`id ${id} (round ${c.round}, uuid ${c.subaccountUuid}): ${JSON.stringify(s)}`);
        }
      }
      expect(missing, `round ${round}: acknowledged subaccounts lost after the restart`).toEqual([]);
      // Nothing was made from nothing: every subaccount is an acknowledged one or an unanswered request.
      const allUnanswered = all.filter((c) => c.status === null).length;
      expect(e.next_subaccount_id).toBeGreaterThanOrEqual(ackedById.size);
      expect(e.next_subaccount_id).toBeLessThanOrEqual(ackedById.size + allUnanswered);
      expect(e.collateral.deposited_rao).toBe(DEPOSIT_RAO.toString());
      expect(e.collateral.slashed_rao).toBe("0");
      expect(e.collateral.reserved_rao).toBe((RESERVE_RAO * BigInt(e.active_subaccounts)).toString());
      for (const s of e.subaccounts) expect(s.collateral_reserved_rao).toBe(RESERVE_RAO.toString());
      const invariants = await send(server.base, "GET", "/v1/chain/invariants", undefined, {});
      expect(invariants.status).toBe(200);
      expect((invariants.json.invariants as Array<{ ok: boolean }>).filter((i) => !i.ok)).toEqual([]);

      // Replays accepted now are new subaccounts: count them as acknowledged from here on.
      for (const s of after.subaccounts.slice(before.subaccounts.length)) {
        ackedById.set(s.subaccount_id, { round, body: "", headers: {}, status: 201, id: s.subaccount_id, subaccountUuid: s.subaccount_uuid });
      }
      lines.push(
        `round ${round}: kill after ${minAcks} acks + ${delayMs} ms; ${mine.length} sent, ${acked.length} acked, ` +
          `${unanswered.length} unanswered; restart ${restartMs} ms; next_id ${e.next_subaccount_id}; ` +
          `${acceptedNow} unanswered replays accepted`,
      );
    }

    // ---- the last directory, in-process: the uuids a restart reads back, and verify --------------
    const lastRound = all.filter((c) => c.round === KILLS - 1 && c.status === 201);
    await server.kill();
    const node = await PropnetNode.open({ dataDir, say: () => {} });
    let recoveredHash: string;
    let head: number;
    try {
      expect(node.problems).toEqual([]);
      [head, recoveredHash] = await node.read((state, h) => [h.seq, stateHash(state)] as const);
      const logged = await node.requestUuidsSince(0);
      const counts = new Map<string, number>();
      for (const [uuid] of logged) counts.set(uuid, (counts.get(uuid) ?? 0) + 1);
      expect([...counts].filter(([, n]) => n > 1), "an Epistula uuid committed twice").toEqual([]);
      const notLogged = all.filter((c) => c.status === 201 && c.body !== "" && !counts.has((c.headers["Epistula-Uuid"] as string).toLowerCase()));
      expect(notLogged.length, "acknowledged requests whose uuid is not in the log").toBe(0);

      // What `serve` does on start (src/cli/serve.ts), for a restart fast enough that the replays'
      // timestamps are not older than its start: every acknowledged request must be REQUEST_REPLAYED.
      await epistulaReady();
      for (const c of lastRound) {
        const ts = Number(c.headers["Epistula-Timestamp"]);
        const verifier = new EpistulaVerifier({ now: () => ts, startedAt: ts });
        for (const [uuid, at] of await node.requestUuidsSince(verifier.startedAt - EPISTULA_PAST_MS - EPISTULA_FUTURE_MS)) {
          verifier.remember(uuid, at + EPISTULA_FUTURE_MS);
        }
        const lower = Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k.toLowerCase(), v]));
        let code: string | null = null;
        try {
          await verifier.verify(lower, c.body);
        } catch (error) {
          code = error instanceof DomainError ? error.code : String(error);
        }
        expect(code, `replay of acknowledged id ${c.id} with a fast restart`).toBe("REQUEST_REPLAYED");
      }
    } finally {
      await node.close({ snapshot: false });
    }
    const full = await verifyLog(dataDir, { full: true });
    expect(full.lastSeq).toBe(head);
    expect(full.stateHash, "recovery and a full replay disagree").toBe(recoveredHash);

    const codes = Object.fromEntries(replayCodes);
    console.log(
      `http durability: ${KILLS} kills, ${all.length} requests, ${ackedById.size} subaccounts acknowledged, ` +
        `${replaysAccepted} unanswered replays accepted, replays of acknowledged requests refused as ${JSON.stringify(codes)}, ` +
        `${Math.round(performance.now() - started)} ms\n  ${lines.join("\n  ")}`,
    );
  });
});
