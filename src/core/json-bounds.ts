// Bounds on untrusted JSON before anything recursive (Cedar marshalling, hashing, redaction,
// schema validation) walks it: how deep it nests and how many values it holds. Checked without
// recursion, so a hostile value cannot overflow the stack of the check itself.

export const MAX_JSON_DEPTH = 32;
export const MAX_JSON_NODES = 100_000;

/** Why `value` is out of bounds (naming the limit), or null. */
export function jsonBoundsProblem(value: unknown, maxDepth = MAX_JSON_DEPTH, maxNodes = MAX_JSON_NODES): string | null {
  const stack: Array<[unknown, number]> = [[value, 0]];
  let nodes = 0;
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (++nodes > maxNodes) return `holds more than ${maxNodes} values`;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= maxDepth) return `nests deeper than ${maxDepth} levels`;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return null;
}
