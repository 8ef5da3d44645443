import { readFileSync } from "node:fs";

/**
 * Notices when the process that started `propnet serve` goes away. `npm start` runs the node as
 * `npm -> sh -c -> node`; when npm is killed the shell dies or is orphaned and the node would
 * run on alone, holding the data directory and the port. So the node watches its parent (its
 * ppid changes when it is reparented) and, when the parent is a shell npm ran, the shell's parent
 * too (Linux /proc; elsewhere the parent only). Polls: there is no portable parent-death signal.
 */
export function watchParent(onGone: (why: string) => void, everyMs = 500): () => void {
  const parent = process.ppid;
  // A shell between npm and the node (`sh -c`) is watched through: npm is its parent.
  const grandparent = isShell(parent) ? parentOf(parent) : null;
  const timer = setInterval(() => {
    let why: string | null = null;
    if (process.ppid !== parent) why = `the process that started the node (pid ${parent}) is gone`;
    else if (grandparent !== null && grandparent > 1 && parentOf(parent) !== grandparent) {
      why = `the process that started the node (pid ${grandparent}) is gone`;
    }
    if (why === null) return;
    clearInterval(timer);
    onGone(why);
  }, everyMs);
  // The watch never keeps the node alive by itself.
  timer.unref();
  return () => clearInterval(timer);
}

/** The parent pid of `pid` from /proc/<pid>/stat, or null where there is no /proc (or it is gone). */
function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ppid = Number(fields[1]);
    return Number.isInteger(ppid) ? ppid : null;
  } catch {
    return null;
  }
}

function isShell(pid: number): boolean {
  try {
    return /^(sh|dash|bash|zsh|ash|busybox)$/.test(readFileSync(`/proc/${pid}/comm`, "utf8").trim());
  } catch {
    return false;
  }
}

/** Whether this process was started by an npm script (`npm start`), which sets npm_lifecycle_event. */
export function startedByNpm(env: NodeJS.ProcessEnv = process.env): boolean {
  return typeof env.npm_lifecycle_event === "string" && env.npm_lifecycle_event !== "";
}
