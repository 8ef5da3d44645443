import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { beforeAll, describe, expect, it } from "vitest";
import { codeOf, devPairs, epistula, lowerHeaders, type SignOptions as EpistulaOptions } from "../../test/support/http.ts";
import { DomainError } from "../core/errors/errors.ts";
import { EPISTULA_FUTURE_MS, EPISTULA_PAST_MS, EPISTULA_STARTUP_GUARD_MS, EpistulaVerifier, epistulaReady } from "./epistula.ts";

let alice: KeyringPair;
let bob: KeyringPair;

beforeAll(async () => {
  ({ Alice: alice, Bob: bob } = await devPairs(["Alice", "Bob"]));
  await epistulaReady();
});

const T0 = 1_700_000_000_000;
/** A verifier started long before `now`, so the startup guard is over. */
function verifier(clock: { now: number }, startedAt = T0 - 60_000): EpistulaVerifier {
  return new EpistulaVerifier({ now: () => clock.now, startedAt });
}

interface SignOptions extends EpistulaOptions {
  /** The body signed (none unless given). */
  body?: string;
}

/** Epistula headers as the verifier gets them (lower-case names), timestamped T0 unless told. */
function sign(by: KeyringPair, o: SignOptions = {}): IncomingHttpHeaders {
  return lowerHeaders(epistula(by, o.body ?? "", { ...o, ts: o.ts ?? T0 }));
}

describe("Epistula v2 verification", () => {
  it("accepts the raw message and returns what it proves", async () => {
    const clock = { now: T0 };
    const body = '{"call":"balances.transfer","args":{}}';
    const headers = sign(alice, { body, signedFor: "5Node" });
    const proof = await verifier(clock).verify(headers, Buffer.from(body));
    expect(proof).toEqual({ signer: alice.address, uuid: headers["epistula-uuid"], timestamp: T0, signedFor: "5Node" });
  });

  it("accepts the <Bytes>-wrapped message of wallet extensions", async () => {
    const v = verifier({ now: T0 });
    expect((await v.verify(sign(bob, { body: "{}", wrap: true }), "{}")).signer).toBe(bob.address);
  });

  it("signs the exact bytes: a changed body, uuid, timestamp or signedFor fails", async () => {
    const v = verifier({ now: T0 });
    expect(await codeOf(() => v.verify(sign(alice, { body: '{"a":1}' }), '{"a": 1}'))).toBe("SIGNATURE_INVALID");
    const h = sign(alice, { signedFor: "x" });
    expect(await codeOf(() => v.verify({ ...h, "epistula-signed-for": "y" }))).toBe("SIGNATURE_INVALID");
    expect(await codeOf(() => v.verify({ ...sign(alice), "epistula-timestamp": String(T0 + 1) }))).toBe("SIGNATURE_INVALID");
    expect(await codeOf(() => v.verify({ ...sign(alice), "epistula-uuid": randomUUID() }))).toBe("SIGNATURE_INVALID");
    // A GET signs the sha256 of zero bytes.
    expect(await codeOf(() => v.verify(sign(alice), ""))).toBe("OK");
  });

  it("refuses a signature by another key than Epistula-Signed-By", async () => {
    const v = verifier({ now: T0 });
    expect(await codeOf(() => v.verify(sign(alice, { key: bob })))).toBe("SIGNATURE_INVALID");
  });

  it("refuses malformed headers with SIGNATURE_INVALID and absent ones with SIGNATURE_MISSING", async () => {
    const v = verifier({ now: T0 });
    for (const name of ["epistula-version", "epistula-timestamp", "epistula-uuid", "epistula-signed-by", "epistula-request-signature"]) {
      const h = sign(alice);
      delete h[name];
      expect(await codeOf(() => v.verify(h)), name).toBe("SIGNATURE_MISSING");
      expect(await codeOf(() => v.verify({ ...sign(alice), [name]: "" })), name).toBe("SIGNATURE_MISSING");
    }
    expect(await codeOf(() => v.verify({}))).toBe("SIGNATURE_MISSING");
    expect(await codeOf(() => v.verify({ ...sign(alice), "epistula-version": "1" }))).toBe("SIGNATURE_INVALID");
    expect(await codeOf(() => v.verify({ ...sign(alice), "epistula-timestamp": "17e11" }))).toBe("SIGNATURE_INVALID");
    expect(await codeOf(() => v.verify({ ...sign(alice), "epistula-uuid": "not-a-uuid" }))).toBe("SIGNATURE_INVALID");
    expect(await codeOf(() => v.verify({ ...sign(alice), "epistula-signed-by": "5notanaddress" }))).toBe("SIGNATURE_INVALID");
    const h = sign(alice);
    expect(await codeOf(() => v.verify({ ...h, "epistula-request-signature": String(h["epistula-request-signature"]).slice(0, 100) }))).toBe(
      "SIGNATURE_INVALID",
    );
    // An SS58 address of another network prefix is refused.
    const polkadot = new Keyring({ type: "sr25519", ss58Format: 0 }).addFromUri("//Alice");
    expect(await codeOf(() => v.verify(sign(polkadot)))).toBe("SIGNATURE_INVALID");
  });

  it("accepts timestamps within [now - 8000, now + 2000] and refuses the first ms outside, with server_time_ms", async () => {
    const now = T0 + 100_000;
    const v = verifier({ now });
    expect(await codeOf(() => v.verify(sign(alice, { ts: now - EPISTULA_PAST_MS })))).toBe("OK");
    expect(await codeOf(() => v.verify(sign(alice, { ts: now + EPISTULA_FUTURE_MS })))).toBe("OK");
    for (const ts of [now - EPISTULA_PAST_MS - 1, now + EPISTULA_FUTURE_MS + 1, now - 60_000, now + 60_000]) {
      try {
        await v.verify(sign(alice, { ts }));
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(DomainError);
        expect((error as DomainError).code).toBe("SIGNATURE_EXPIRED");
        expect((error as DomainError).details).toEqual({ server_time_ms: now });
      }
    }
  });

  it("checks the window before the signature", async () => {
    const v = verifier({ now: T0 });
    const h = { ...sign(alice, { ts: T0 - 60_000 }), "epistula-request-signature": `0x${"00".repeat(64)}` };
    expect(await codeOf(() => v.verify(h))).toBe("SIGNATURE_EXPIRED");
  });

  it("accepts a uuid once, whatever happened after verification; a failed signature does not consume it", async () => {
    const v = verifier({ now: T0 });
    const uuid = randomUUID();
    const bad = { ...sign(alice, { uuid }), "epistula-signed-by": bob.address };
    expect(await codeOf(() => v.verify(bad))).toBe("SIGNATURE_INVALID");
    const good = sign(alice, { uuid });
    expect(await codeOf(() => v.verify(good))).toBe("OK");
    expect(await codeOf(() => v.verify(good))).toBe("REQUEST_REPLAYED");
    // Another signer, or another case of the same uuid, is still the same uuid.
    expect(await codeOf(() => v.verify(sign(bob, { uuid })))).toBe("REQUEST_REPLAYED");
    expect(await codeOf(() => v.verify(sign(bob, { uuid: uuid.toUpperCase() })))).toBe("REQUEST_REPLAYED");
  });

  it("forgets uuids once their timestamps leave the window: a replay then fails the window instead", async () => {
    const clock = { now: T0 };
    const v = verifier(clock);
    const first = sign(alice, { ts: T0 });
    await v.verify(first);
    await v.verify(sign(alice, { ts: T0 + 1_000 }));
    expect(v.rememberedUuids).toBe(2);
    clock.now = T0 + EPISTULA_PAST_MS + 1;
    expect(await codeOf(() => v.verify(first))).toBe("SIGNATURE_EXPIRED");
    await v.verify(sign(alice, { ts: clock.now }));
    // The first is gone; the second (ts T0 + 1000) is still inside the window.
    expect(v.rememberedUuids).toBe(2);
    clock.now = T0 + 60_000;
    await v.verify(sign(alice, { ts: clock.now }));
    expect(v.rememberedUuids).toBe(1);
  });

  it("for 10 s after start refuses timestamps older than the start", async () => {
    const clock = { now: T0 + 3_000 };
    const v = verifier(clock, T0);
    expect(await codeOf(() => v.verify(sign(alice, { ts: T0 - 1 })))).toBe("SIGNATURE_EXPIRED");
    expect(await codeOf(() => v.verify(sign(alice, { ts: T0 })))).toBe("OK");
    clock.now = T0 + EPISTULA_STARTUP_GUARD_MS;
    expect(await codeOf(() => v.verify(sign(alice, { ts: T0 + 4_000 })))).toBe("OK");
  });

  it("markStarted: the start-up guard counts from node time once the node's clock is anchored, and uuids consumed by another clock's window go", async () => {
    // Before the node opened, the verifier read a wall clock a day ahead; node time is T0.
    const clock = { now: T0 + 86_400_000 };
    const v = verifier(clock, clock.now);
    await v.verify(sign(alice, { ts: clock.now }));
    expect(v.rememberedUuids).toBe(1);
    clock.now = T0;
    v.markStarted(T0);
    expect(v.startedAt).toBe(T0);
    expect(v.rememberedUuids).toBe(0);
    expect(await codeOf(() => v.verify(sign(alice, { ts: T0 - 1 })))).toBe("SIGNATURE_EXPIRED");
    expect(await codeOf(() => v.verify(sign(alice, { ts: T0 + 1_000 })))).toBe("OK");
    expect(v.rememberedUuids).toBe(1);
  });
});
