import { AssertionFailure } from "../errors/errors.ts";

/**
 * JSON with every object's keys sorted (recursively), so equal values encode to equal bytes
 * whatever order the code built them in (DESIGN.md §2 rule 1: hashes are over a canonical
 * encoding). Numbers keep JS's shortest round-trip form, with -0 written as 0; NaN and ±Infinity
 * are refused (JSON.stringify would write null and hide the fault). Only plain objects, arrays,
 * strings, finite numbers, booleans and null are accepted; an undefined property is left out, as
 * JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  try {
    write(value, out, null);
  } catch (error) {
    // Paths cost a string per value: they are found again only when something is refused.
    if (!(error instanceof AssertionFailure)) throw error;
    write(value, [], "$");
    throw error;
  }
  return out.join("");
}

/** `path` is null on the fast pass; a refusal is then made again with paths, to name where. */
function write(value: unknown, out: string[], path: string | null): void {
  switch (typeof value) {
    case "string":
      out.push(JSON.stringify(value));
      return;
    case "number":
      if (!Number.isFinite(value)) throw new AssertionFailure(`canonical JSON: ${path} is ${value}, not a finite number`);
      // `${-0}` and JSON.stringify(-0) are both "0": -0 and 0 encode alike.
      out.push(JSON.stringify(value));
      return;
    case "boolean":
      out.push(value ? "true" : "false");
      return;
    case "object": {
      if (value === null) {
        out.push("null");
        return;
      }
      if (Array.isArray(value)) {
        out.push("[");
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out.push(",");
          // As JSON.stringify: a hole or undefined in an array is null.
          const v: unknown = value[i];
          if (v === undefined) out.push("null");
          else write(v, out, path === null ? null : `${path}.${i}`);
        }
        out.push("]");
        return;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new AssertionFailure(`canonical JSON: ${path} is a ${(value as object).constructor?.name ?? "non-plain object"}, not a plain object`);
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).sort();
      out.push("{");
      let first = true;
      for (const k of keys) {
        const v = record[k];
        if (v === undefined) continue;
        if (!first) out.push(",");
        first = false;
        out.push(JSON.stringify(k), ":");
        write(v, out, path === null ? null : `${path}.${k}`);
      }
      out.push("}");
      return;
    }
    default:
      throw new AssertionFailure(`canonical JSON: ${path} is a ${typeof value}, which JSON cannot hold`);
  }
}
