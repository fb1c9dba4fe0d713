// Static entities from Cedar JSON entity files named in mandate.yaml (a directory of users and
// roles, say): attributes and ancestors the PDP adds to requests about those entities.

import { readFileSync } from 'node:fs';
import { MandateError, q } from '../core/errors.js';
import type { EntityJson, EntityUidJson } from './cedar.js';
import type { EntityRef } from './engine.js';

const key = (t: string, id: string) => `${t}::${JSON.stringify(id)}`;

function refOf(e: EntityUidJson): EntityRef {
  return '__entity' in e ? e.__entity : e;
}

export class EntityStore {
  private readonly entities = new Map<string, EntityJson>();
  /** Flattened: every ancestor, not just direct parents. */
  private readonly ancestors = new Map<string, EntityRef[]>();

  static fromFiles(files: string[]): EntityStore {
    const store = new EntityStore();
    for (const file of files) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new MandateError('config_invalid', `entity file ${q(file)}: ${(err as Error).message}`, { cause: err });
      }
      if (!Array.isArray(parsed)) throw new MandateError('config_invalid', `entity file ${q(file)}: expected a JSON array of Cedar entities`);
      parsed.forEach((e, i) => store.add(e, `${file}[${i}]`));
    }
    store.close();
    return store;
  }

  private add(e: unknown, where: string): void {
    const ent = e as Partial<EntityJson>;
    const uid = ent?.uid ? refOf(ent.uid) : undefined;
    if (!uid || typeof uid.type !== 'string' || typeof uid.id !== 'string') {
      throw new MandateError('config_invalid', `${where}: entity needs \`uid\` with \`type\` and \`id\` strings`);
    }
    this.entities.set(key(uid.type, uid.id), {
      uid: { type: uid.type, id: uid.id },
      attrs: (ent.attrs ?? {}) as EntityJson['attrs'],
      parents: (ent.parents ?? []).map((p) => {
        const r = refOf(p);
        return { type: r.type, id: r.id };
      }),
    });
  }

  private close(): void {
    for (const [k, e] of this.entities) {
      const seen = new Map<string, EntityRef>();
      const stack = e.parents.map(refOf);
      while (stack.length) {
        const p = stack.pop()!;
        const pk = key(p.type, p.id);
        if (seen.has(pk) || pk === k) continue;
        seen.set(pk, p);
        const pe = this.entities.get(pk);
        if (pe) stack.push(...pe.parents.map(refOf));
      }
      this.ancestors.set(k, [...seen.values()]);
    }
  }

  get size(): number {
    return this.entities.size;
  }

  get(type: string, id: string): EntityJson | undefined {
    return this.entities.get(key(type, id));
  }

  ancestorsOf(type: string, id: string): EntityRef[] {
    return this.ancestors.get(key(type, id)) ?? [];
  }
}
