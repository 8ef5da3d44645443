/**
 * Validators in sync (issue 10, DESIGN.md §4.1), with real processes on loopback: a mothership and
 * two followers, each listing the other two in --peers. A follower killed while the mothership
 * creates 1,000 subaccounts and eliminates 100 catches up when it restarts; forged, tampered,
 * reordered and replayed batches pushed to a follower change nothing; every node then shows the
 * same entity facts over the API and the same sync-state hash. A mothership restored from an old
 * backup catches up from its followers before it issues anything, so no id is issued twice.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { chainFact, factHash, type SyncFact } from "../../src/core/sync/sync-fact.ts";
import { type Answer, devSigners, type Signer } from "../support/http.ts";
import { children, cli, freePort, ROOT } from "../support/processes.ts";
import { serveEnv } from "../storage/serve-process.ts";
import {
  ClusterNode,
  conflictsOf,
  createSubaccounts,
  eliminationTimeDiffs,
  type EntityFacts,
  entityFacts,
  pool,
  setUpEntity,
  type SyncHead,
  syncHead,
  waitForStreamSeq,
  withoutEliminationTimes,
} from "./sync-cluster.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const keys = await devSigners(["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"] as const);
const { Alice: root, Bob: mothershipKey, Dave, Eve, Ferdie } = keys;

interface Cluster {
  work: string;
  m: ClusterNode;
  f1: ClusterNode;
  f2: ClusterNode;
  all: ClusterNode[];
}

/** A mothership (//Bob) and two followers (//Charlie, //Eve), started together and ready. */
async function startCluster(prefix: string): Promise<Cluster> {
  const work = mkdtempSync(join(tmpdir(), `propnet-${prefix}-`));
  dirs.push(work);
  const ports: number[] = [];
  while (ports.length < 3) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const m = new ClusterNode("mothership", "//Bob", join(work, "m"), ports[0] as number, null);
  const f1 = new ClusterNode("follower 1", "//Charlie", join(work, "f1"), ports[1] as number, mothershipKey.address);
  const f2 = new ClusterNode("follower 2", "//Eve", join(work, "f2"), ports[2] as number, mothershipKey.address);
  const all = [m, f1, f2];
  for (const n of all) n.peers = all.filter((o) => o !== n).map((o) => o.url);
  // Together: a mothership with peers is ready only once every peer answered it.
  for (const n of all) n.start();
  await Promise.all(all.map((n) => n.p.ready()));
  return { work, m, f1, f2, all };
}

/** What must not move when a bad batch arrives. */
function unchanged(h: SyncHead): Pick<SyncHead, "stream_seq" | "hash" | "sync_state_hash" | "conflicts"> {
  return { stream_seq: h.stream_seq, hash: h.hash, sync_state_hash: h.sync_state_hash, conflicts: h.conflicts };
}

describe("peer sync between real validator processes", () => {
  it(
    "a killed follower catches up on 1,000 creations and 100 eliminations; bad batches change nothing; all nodes agree",
    { timeout: 150_000 },
    async () => {
      const t0 = performance.now();
      const { m, f1, f2, all } = await startCluster("sync");
      const tStarted = performance.now();
      for (const n of all) {
        const h = await n.p.healthz();
        expect(h.json.sync.role, h.text).toBe(n === m ? "mothership" : "follower");
        expect(h.json.sync.mothership).toBe(mothershipKey.address);
      }

      // ---- two entities on the mothership's chain: 500 subaccounts each, 4 TAO reserved per subaccount ----
      await Promise.all([setUpEntity(m, Dave, 2_100n), setUpEntity(m, Ferdie, 2_100n)]);
      await Promise.all([f1, f2].map((f) => waitForStreamSeq(f, 2)));
      // A follower issues nothing: it points at the mothership.
      const refusedHere = await f2.p.api.post(`/v1/entities/${Dave.address}/subaccounts`, Dave, {});
      expect(refusedHere.status, refusedHere.text).toBe(409);
      expect(refusedHere.json.error.code).toBe("NOT_MOTHERSHIP");

      // ---- follower 1 dies; the mothership creates 1,000 and eliminates 100 ----------------------------
      await f1.kill();
      const tWrites = performance.now();
      const [daveIds, ferdieIds] = await Promise.all([createSubaccounts(m, Dave, 500), createSubaccounts(m, Ferdie, 500)]);
      expect([...daveIds].sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i));
      expect([...ferdieIds].sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i));
      const doomed = [...Array.from({ length: 50 }, (_, i) => `${Dave.address}_${i * 10}`), ...Array.from({ length: 50 }, (_, i) => `${Ferdie.address}_${i * 10 + 3}`)];
      const eliminated = await pool(
        doomed.map((s) => () => m.p.api.post(`/v1/subaccounts/${s}/eliminate`, root, { reason: "sync test" })),
        8,
      );
      for (const a of eliminated) {
        expect(a.status, a.text).toBe(200);
        expect(a.json.subaccount.status).toBe("eliminated");
      }
      const writesMs = performance.now() - tWrites;
      const target = (await syncHead(m)).stream_seq;
      expect(target).toBe(2 + 1_000 + 100);
      // Follower 2 stayed up: the mothership pushes to it.
      const f2LagMs = await waitForStreamSeq(f2, target);

      // ---- follower 1 restarts and catches up -----------------------------------------------------------
      const tRestart = performance.now();
      f1.start();
      await f1.p.ready();
      const readyMs = performance.now() - tRestart;
      const atReady = (await syncHead(f1)).stream_seq;
      await waitForStreamSeq(f1, target);
      const catchUpMs = performance.now() - tRestart;
      console.log(
        `sync: cluster up in ${(tStarted - t0).toFixed(0)} ms; 1,000 creations + 100 eliminations on the mothership in ${writesMs.toFixed(0)} ms; ` +
          `follower 2 (up) at the head ${f2LagMs.toFixed(0)} ms after the last write; follower 1 restarted: ready in ${readyMs.toFixed(0)} ms, ` +
          `caught up on ${target} facts in ${catchUpMs.toFixed(0)} ms from spawn (at stream_seq ${atReady} when ready, the head ${(catchUpMs - readyMs).toFixed(0)} ms later)`,
      );
      for (const n of all) expect(await conflictsOf(n)).toEqual({ conflicts: 0, problems: [] });

      // ---- bad batches pushed to follower 1: each changes nothing ----------------------------------------
      const tBad = performance.now();
      const before = await syncHead(f1, true);
      expect(before.stream_seq).toBe(target);
      const push = (batch: unknown, o: { uuid?: string } = {}): Promise<Answer> => f1.p.api.post("/v1/sync/events", Ferdie, batch, o);
      const sign = (by: Signer, hash: string): string => `0x${Buffer.from(by.sign(hash)).toString("hex")}`;
      const real = await m.p.api.get(`/v1/sync/events?after=${target - 10}&limit=10`);
      expect(real.status, real.text).toBe(200);
      const held = real.json as { events: SyncFact[]; head: { stream_seq: number; hash: string; signature: string } };
      expect(held.events.map((e) => e.stream_seq)).toEqual(Array.from({ length: 10 }, (_, i) => target - 9 + i));
      const clone = (): SyncFact[] => structuredClone(held.events);
      // Two facts that would continue follower 1's stream: Dave's next subaccounts, made up here.
      const fa = chainFact({ stream_seq: before.stream_seq, hash: before.hash }, "SubaccountCreated", { entity: Dave.address, id: 500, uuid: randomUUID(), account_size_usd: 10_000 }, Date.now());
      const fb = chainFact(fa, "SubaccountCreated", { entity: Dave.address, id: 501, uuid: randomUUID(), account_size_usd: 10_000 }, Date.now());
      const headOf = (f: SyncFact, by: Signer) => ({ stream_seq: f.stream_seq, hash: f.hash, signature: sign(by, f.hash) });
      const rehash = (f: SyncFact): SyncFact => ({ ...f, hash: factHash(f) });

      const refusedCases: Array<[string, unknown]> = [
        // Forged: the head signed by a validator that is not the mothership (follower 2's key).
        ["forged: new fact signed by a follower", { events: [fa], head: headOf(fa, Eve) }],
        ["forged: the mothership's own facts re-signed by a follower", { events: clone(), head: { ...held.head, signature: sign(Eve, held.head.hash) } }],
        ["forged: new fact signed by root", { events: [fa], head: headOf(fa, root) }],
        // Tampered after signing: the hash no longer matches (even under a valid mothership signature).
        ["tampered: new fact's uuid changed under the mothership's signature", { events: [{ ...fa, payload: { ...fa.payload, uuid: randomUUID() } }], head: headOf(fa, mothershipKey) }],
        [
          "tampered: a held fact's payload changed",
          (() => {
            const ev = clone();
            (ev[4] as SyncFact).payload = { ...(ev[4] as SyncFact).payload, uuid: randomUUID() };
            return { events: ev, head: held.head };
          })(),
        ],
        // Tampered with the hash recomputed: the head signature no longer matches.
        [
          "tampered: new fact rehashed, the signature is of the original",
          (() => {
            const t = rehash({ ...fa, payload: { ...fa.payload, id: 0 } });
            return { events: [t], head: { stream_seq: t.stream_seq, hash: t.hash, signature: sign(mothershipKey, fa.hash) } };
          })(),
        ],
        [
          "tampered: the last held fact rehashed, the signature is of the original",
          (() => {
            const ev = clone();
            const last = rehash({ ...(ev[9] as SyncFact), payload: { ...(ev[9] as SyncFact).payload, reason: "tampered" } });
            ev[9] = last;
            return { events: ev, head: { stream_seq: last.stream_seq, hash: last.hash, signature: held.head.signature } };
          })(),
        ],
        // Reordered: facts out of order within a batch, and a batch arriving before the one it follows.
        ["reordered: held facts reversed", { events: clone().reverse(), head: held.head }],
        ["reordered: new facts swapped, both signed by the mothership", { events: [fb, fa], head: headOf(fa, mothershipKey) }],
        ["reordered: the second new batch before the first", { events: [fb], head: headOf(fb, mothershipKey) }],
      ];
      for (const [what, batch] of refusedCases) {
        const a = await push(batch);
        expect(a.status, `${what}: ${a.text}`).toBe(200);
        expect(a.json, what).toMatchObject({ applied: 0, conflicts: 0, stream_seq: target });
        expect(a.json.refused, `${what}: ${a.text}`).toBeGreaterThanOrEqual(1);
        expect(unchanged(await syncHead(f1, true)), what).toEqual(unchanged(before));
      }

      // Replayed: batches follower 1 already holds, as served, sent again with a fresh transport signature.
      const first = await m.p.api.get("/v1/sync/events?after=0&limit=250");
      expect(first.status, first.text).toBe(200);
      const replays: Array<[string, unknown, number]> = [
        ["replayed: the last 10 facts", held, 10],
        ["replayed: the first 250 facts", first.json, 250],
      ];
      for (const [what, batch, n] of replays) {
        const a = await push(batch);
        expect(a.status, `${what}: ${a.text}`).toBe(200);
        expect(a.json, what).toEqual({ applied: 0, duplicates: n, conflicts: 0, refused: 0, stream_seq: target });
        expect(unchanged(await syncHead(f1, true)), what).toEqual(unchanged(before));
      }
      // The same HTTP request sent twice: the transport refuses the second (the uuid is spent).
      const uuid = randomUUID();
      const once = await push(held, { uuid });
      expect(once.json.duplicates, once.text).toBe(10);
      const twice = await push(held, { uuid });
      expect(twice.status, twice.text).toBe(401);
      expect(twice.json.error.code).toBe("REQUEST_REPLAYED");
      expect(unchanged(await syncHead(f1, true))).toEqual(unchanged(before));
      // The refusals are counted and shown, without a conflict or a degraded status.
      const health = await f1.p.healthz();
      expect(health.json.status, health.text).toBe("ok");
      expect(health.json.sync.conflicts).toBe(0);
      expect(JSON.stringify(health.json.problems)).toMatch(/received batches refused/);
      const badMs = performance.now() - tBad;

      // The mothership's /healthz sees follower 1 back: reachable, no lag (its pull rounds run every ~5 s).
      for (const deadline = Date.now() + 20_000; ; ) {
        const peers = (await m.p.healthz()).json.sync.peers as Array<{ url: string; stream_seq: number | null; lag: number | null; reachable: boolean }>;
        const p1 = peers.find((p) => p.url === f1.url);
        if (p1?.reachable && p1.lag === 0 && p1.stream_seq === target) break;
        if (Date.now() > deadline) throw new Error(`the mothership's /healthz never showed follower 1 caught up: ${JSON.stringify(peers)}`);
        await new Promise((ok) => setTimeout(ok, 100));
      }

      // ---- every node: the same entity facts and the same sync-state hash ---------------------------------
      const eliminationTimes: Array<[EntityFacts, EntityFacts]> = [];
      for (const n of all) expect((await syncHead(n)).stream_seq, n.name).toBe(target);
      for (const entity of [Dave, Ferdie]) {
        const [fm, ff1, ff2] = (await Promise.all(all.map((n) => entityFacts(n, entity)))) as [EntityFacts, EntityFacts, EntityFacts];
        expect(fm.subaccounts.map((s) => s.id)).toEqual(Array.from({ length: 500 }, (_, i) => i));
        expect(new Set(fm.subaccounts.map((s) => s.uuid)).size).toBe(500);
        expect(fm.eliminated_subaccounts).toBe(50);
        expect(fm.subaccounts.filter((s) => s.status === "eliminated")).toHaveLength(50);
        expect(withoutEliminationTimes(ff1), `follower 1's facts of ${entity.address}`).toEqual(withoutEliminationTimes(fm));
        expect(withoutEliminationTimes(ff2), `follower 2's facts of ${entity.address}`).toEqual(withoutEliminationTimes(fm));
        eliminationTimes.push([ff1, fm], [ff2, fm]);
      }
      const heads = await Promise.all(all.map((n) => syncHead(n, true)));
      for (const h of heads) expect(h.sync_state_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(new Set(heads.map((h) => h.sync_state_hash)).size, JSON.stringify(heads)).toBe(1);
      expect(new Set(heads.map((h) => h.hash)).size).toBe(1);
      for (const n of all) expect(await conflictsOf(n)).toEqual({ conflicts: 0, problems: [] });
      // A follower keeps the mothership's elimination time, never its own receive time (Vanta's flaw).
      for (const [theirs, ours] of eliminationTimes) {
        expect(eliminationTimeDiffs(theirs, ours), `eliminated_at_ms of ${ours.entity_hotkey}'s subaccounts on a follower != the mothership's`).toEqual([]);
      }
      console.log(`sync: ${refusedCases.length} bad and ${replays.length + 2} replayed batches checked in ${badMs.toFixed(0)} ms; total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      await Promise.all(all.map((n) => n.stop()));
    },
  );

  it(
    "a mothership restored from an old backup catches up from its followers before issuing: fresh ids, no conflict",
    { timeout: 90_000 },
    async () => {
      const t0 = performance.now();
      const { work, m, f1, f2, all } = await startCluster("sync-restore");
      await setUpEntity(m, Dave, 400n);
      expect(await createSubaccounts(m, Dave, 10, 1)).toEqual(Array.from({ length: 10 }, (_, i) => i));
      await Promise.all([f1, f2].map((f) => waitForStreamSeq(f, 11)));

      // The backup knows 11 facts; the followers then learn 21 more.
      const backup = join(work, "old.backup");
      const b = await cli(["backup", "--data", m.dataDir, "--out", backup], ROOT, serveEnv());
      expect(b.code, b.stderr).toBe(0);
      expect(await createSubaccounts(m, Dave, 20, 1)).toEqual(Array.from({ length: 20 }, (_, i) => 10 + i));
      const el = await m.p.api.post(`/v1/subaccounts/${Dave.address}_12/eliminate`, root, { reason: "before the restore" });
      expect(el.status, el.text).toBe(200);
      const knownMs = performance.now();
      await Promise.all([f1, f2].map((f) => waitForStreamSeq(f, 32)));
      const beforeRestore = await entityFacts(f1, Dave);

      // The mothership's disk is lost: restored from the old backup into a new directory, same key and
      // port. Follower 2 is down meanwhile, so the mothership must wait for it before issuing anything.
      await Promise.all([m.stop(), f2.kill()]);
      const restored = join(work, "m-restored");
      const r = await cli(["restore", "--from", backup, "--data", restored], ROOT, serveEnv());
      expect(r.code, r.stderr).toBe(0);
      m.dataDir = restored;
      const tRestart = performance.now();
      m.start();
      for (const deadline = Date.now() + 30_000; ; ) {
        const h = await m.p.healthz().catch(() => null);
        if (h && JSON.stringify(h.json?.problems).includes("catching up with peers")) break;
        if (Date.now() > deadline || m.p.run.child.exitCode !== null) throw new Error(`the restored mothership never said it was catching up:\n${m.p.stderr}`);
        await new Promise((ok) => setTimeout(ok, 50));
      }
      // Listening but not caught up: an entity change is refused, not issued with a stale id.
      const early = await m.p.api.post(`/v1/entities/${Dave.address}/subaccounts`, Dave, {});
      expect(early.status, early.text).toBe(503);
      expect(early.json.error.code).toBe("UNAVAILABLE");
      expect((await m.p.api.get("/readyz")).status).toBe(503);
      f2.start();
      await Promise.all([m.p.ready(), f2.p.ready()]);
      const readyMs = performance.now() - tRestart;
      // Ready means caught up: it holds every fact its followers hold before it may issue one.
      expect((await syncHead(m)).stream_seq, m.p.stderr).toBe(32);
      expect(m.p.stderr).toMatch(/caught up with peers at stream_seq 32/);
      const afterRestore = await entityFacts(m, Dave);
      expect(withoutEliminationTimes(afterRestore)).toEqual(withoutEliminationTimes(beforeRestore));

      // New subaccounts get fresh ids: 30 onwards, never 10..29 again.
      const fresh = await createSubaccounts(m, Dave, 5, 1);
      expect(fresh).toEqual([30, 31, 32, 33, 34]);
      await Promise.all([f1, f2].map((f) => waitForStreamSeq(f, 37)));
      const [fm, ff1, ff2] = (await Promise.all(all.map((n) => entityFacts(n, Dave)))) as [EntityFacts, EntityFacts, EntityFacts];
      expect(fm.subaccounts.map((s) => s.id)).toEqual(Array.from({ length: 35 }, (_, i) => i));
      expect(new Set(fm.subaccounts.map((s) => s.uuid)).size).toBe(35);
      expect(withoutEliminationTimes(ff1)).toEqual(withoutEliminationTimes(fm));
      expect(withoutEliminationTimes(ff2)).toEqual(withoutEliminationTimes(fm));
      const heads = await Promise.all(all.map((n) => syncHead(n, true)));
      expect(new Set(heads.map((h) => h.sync_state_hash)).size, JSON.stringify(heads)).toBe(1);
      for (const n of all) expect(await conflictsOf(n), n.name).toEqual({ conflicts: 0, problems: [] });

      // The restored mothership's own chain holds the collateral: every active subaccount reserves 4 TAO there.
      const ent = await m.p.api.get(`/v1/entities/${Dave.address}`, Dave);
      const active = ent.json.entity.active_subaccounts as number;
      console.log(
        `sync restore: mothership restored from a backup 21 facts old (one follower restarted meanwhile), ready (caught up) ${readyMs.toFixed(0)} ms after spawn ` +
          `(followers had the facts ${(tRestart - knownMs).toFixed(0)} ms before); collateral on the restored mothership: ${JSON.stringify(ent.json.entity.collateral)} for ${active} active; ` +
          `total ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
      // The restored mothership takes the elimination of _12 from its followers at the time it issued it.
      expect(eliminationTimeDiffs(afterRestore, beforeRestore), "eliminated_at_ms on the restored mothership != the one it issued").toEqual([]);
      expect(ent.json.entity.collateral?.reserved_rao, "reserved collateral on the restored mothership = 4 TAO per active subaccount").toBe(String(BigInt(active) * 4n * 1_000_000_000n));
      await Promise.all(all.map((n) => n.stop()));
    },
  );
});
