import type { State } from "../machine/state.ts";

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
