import type { State, ViolationRecord } from "../machine/state.ts";

/**
 * Whether (scope, invariant) already has an unresolved CriticalInvariantViolation. A violation is
 * recorded once while its scope stays paused or frozen; later sightings are only counted
 * (`noteRepeat`), so a persisting fault does not append a record every block.
 */
export function isUnresolved(state: State, scope: string, invariant: string): boolean {
  return state.violations.some((v) => v.scope === scope && v.invariant === invariant);
}

/**
 * Counts a repeated sighting of an unresolved violation, with its latest values. Node-local, like
 * a metric: it is not state (no event records it, the state hash leaves it out) and a restart
 * starts counting again.
 */
export function noteRepeat(state: State, scope: string, invariant: string, expected: string, actual: string): void {
  const id = `${scope}|${invariant}`;
  const seen = state.violationRepeats.get(id);
  state.violationRepeats.set(id, { repeats: (seen?.repeats ?? 0) + 1, expected, actual });
}

/** The violations list is replaced, never mutated, and the change journaled like any other. */
export function setViolations(state: State, next: State["violations"]): void {
  const before = state.violations;
  state.journal.record(() => {
    state.violations = before;
  });
  state.violations = next;
}

/** Records violations; an entity-scoped one freezes its entity until root unfreezes it. */
export function recordViolations(state: State, records: readonly ViolationRecord[]): void {
  for (const v of records) {
    if (!v.scope.startsWith("entity:")) continue;
    const hotkey = v.scope.slice("entity:".length);
    const e = state.entities.entities.get(hotkey);
    if (e && !e.frozenByViolation) state.entities.entities.set(hotkey, { ...e, frozenByViolation: true });
  }
  setViolations(state, [...state.violations, ...records.map(({ scope, invariant, expected, actual }) => ({ scope, invariant, expected, actual }))]);
}

/** Resolves every violation of the scopes `resolved` accepts, and forgets their repeat counts. */
export function resolveViolations(state: State, resolved: (scope: string) => boolean): void {
  setViolations(
    state,
    state.violations.filter((v) => !resolved(v.scope)),
  );
  for (const id of [...state.violationRepeats.keys()]) if (resolved(id.slice(0, id.indexOf("|")))) state.violationRepeats.delete(id);
}
