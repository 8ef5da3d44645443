import { describe, expect, it } from "vitest";
import { SESSION_COOKIE, SESSION_TTL_MS, SESSIONS_PER_SIGNER, Sessions, sessionCookie, sessionTokenFromCookie } from "./sessions.ts";

const T0 = 1_700_000_000_000;

describe("Sessions", () => {
  it("issues a 32-byte base64url token for 15 minutes, scoped to the signer", () => {
    const clock = { now: T0 };
    const sessions = new Sessions({ now: () => clock.now });
    const { token, expires_at_ms } = sessions.issue("alice");
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
    expect(expires_at_ms).toBe(T0 + SESSION_TTL_MS);
    expect(SESSION_TTL_MS).toBe(900_000);
    expect(sessions.signerOf(token)).toBe("alice");
    clock.now = expires_at_ms - 1;
    expect(sessions.signerOf(token)).toBe("alice");
    clock.now = expires_at_ms;
    expect(sessions.signerOf(token)).toBeNull();
  });

  it("knows nothing of tokens it did not issue", () => {
    const sessions = new Sessions();
    const { token } = sessions.issue("alice");
    expect(sessions.signerOf("")).toBeNull();
    expect(sessions.signerOf(`${token}x`)).toBeNull();
    expect(new Sessions().signerOf(token)).toBeNull();
  });

  it("gives each issue its own token", () => {
    const sessions = new Sessions();
    const a = sessions.issue("alice");
    const b = sessions.issue("alice");
    const c = sessions.issue("bob");
    expect(new Set([a.token, b.token, c.token]).size).toBe(3);
    expect(sessions.signerOf(c.token)).toBe("bob");
  });

  it("drops expired tokens lazily, so memory stays bounded", () => {
    const clock = { now: T0 };
    const sessions = new Sessions({ now: () => clock.now, ttlMs: 1_000 });
    for (let i = 0; i < 100; i++) sessions.issue(`s${i}`);
    expect(sessions.size).toBe(100);
    clock.now += 500;
    const fresh = sessions.issue("fresh");
    expect(sessions.size).toBe(101);
    clock.now += 500;
    sessions.issue("later");
    expect(sessions.size).toBe(2);
    expect(sessions.signerOf(fresh.token)).toBe("fresh");
  });

  it("keeps at most maxSessions, dropping the oldest", () => {
    const sessions = new Sessions({ maxSessions: 3 });
    const tokens = ["a", "b", "c", "d"].map((s) => sessions.issue(s).token);
    expect(sessions.size).toBe(3);
    expect(tokens.map((t) => sessions.signerOf(t))).toEqual([null, "b", "c", "d"]);
  });

  it("keeps 16 live tokens per signer: of 5,000 from one key only the newest 16 stay valid", () => {
    const clock = { now: T0 };
    const sessions = new Sessions({ now: () => clock.now });
    const bob = sessions.issue("bob").token;
    const tokens: string[] = [];
    for (let i = 0; i < 5_000; i++) {
      tokens.push(sessions.issue("alice").token);
      clock.now += 10;
    }
    expect(SESSIONS_PER_SIGNER).toBe(16);
    const valid = tokens.flatMap((t, i) => (sessions.signerOf(t) === "alice" ? [i] : []));
    expect(valid).toEqual(Array.from({ length: 16 }, (_, k) => 5_000 - 16 + k));
    // Another signer's token is not pushed out by alice's.
    expect(sessions.signerOf(bob)).toBe("bob");
    expect(sessions.size).toBe(17);
    expect(sessions.signers).toBe(2);
  });

  it("frees a signer's place when its tokens expire, and forgets the signer", () => {
    const clock = { now: T0 };
    const sessions = new Sessions({ now: () => clock.now, ttlMs: 1_000, maxPerSigner: 2 });
    const [a, b] = [sessions.issue("alice").token, sessions.issue("alice").token];
    clock.now += 500;
    const c = sessions.issue("alice").token; // ends a, the oldest
    expect([a, b, c].map((t) => sessions.signerOf(t))).toEqual([null, "alice", "alice"]);
    clock.now += 600; // b expired, c not
    expect(sessions.signerOf(b)).toBeNull();
    const d = sessions.issue("alice").token; // a place was free: c stays
    expect([c, d].map((t) => sessions.signerOf(t))).toEqual(["alice", "alice"]);
    clock.now += 2_000;
    sessions.issue("carol");
    expect(sessions.size).toBe(1);
    expect(sessions.signers).toBe(1);
  });
});

describe("session cookie", () => {
  it("is HttpOnly, SameSite=Strict, Path=/, with Max-Age in whole seconds", () => {
    expect(SESSION_COOKIE).toBe("propnet_session");
    expect(sessionCookie("tok", T0 + SESSION_TTL_MS, T0)).toBe(
      "propnet_session=tok; Max-Age=900; Path=/; HttpOnly; SameSite=Strict",
    );
    expect(sessionCookie("tok", T0 + 1_999, T0)).toContain("Max-Age=1;");
    expect(sessionCookie("tok", T0 - 5, T0)).toContain("Max-Age=0;");
  });

  it("is read back from a Cookie header", () => {
    expect(sessionTokenFromCookie(undefined)).toBeNull();
    expect(sessionTokenFromCookie("")).toBeNull();
    expect(sessionTokenFromCookie("other=1")).toBeNull();
    expect(sessionTokenFromCookie("propnet_session=")).toBeNull();
    expect(sessionTokenFromCookie("propnet_session=abc")).toBe("abc");
    expect(sessionTokenFromCookie("theme=dark; propnet_session=a-b_c ; x=y")).toBe("a-b_c");
    expect(sessionTokenFromCookie("xpropnet_session=abc")).toBeNull();
  });
});
