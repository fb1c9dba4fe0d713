// A line-level view of what changed between two JSON values (pretty-printed): the lines only in
// the first (`-`) and the lines only in the second (`+`). Enough to see a rewritten tool
// description or a widened schema at a glance; shared by `mandate upstream diff` and the console.

export interface DiffLine {
  op: '-' | '+';
  text: string;
}

export function jsonDiff(before: unknown, after: unknown): DiffLine[] {
  const a = JSON.stringify(before ?? {}, null, 2).split('\n');
  const b = JSON.stringify(after ?? {}, null, 2).split('\n');
  const inA = new Set(a);
  const inB = new Set(b);
  return [...a.filter((l) => !inB.has(l)).map((text) => ({ op: '-' as const, text })), ...b.filter((l) => !inA.has(l)).map((text) => ({ op: '+' as const, text }))];
}
