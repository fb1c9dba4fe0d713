// Tool arguments are validated against the tool's pinned input schema (JSON Schema, by Ajv)
// before anything else looks at them, and arguments the schema does not declare are refused
// unless the tool's config says `additionalArguments: allow`: an argument policy cannot see
// cannot be allowed to reach the upstream.

import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { q } from '../core/errors.js';
import type { ToolSpec } from '../core/tool.js';

const DRAFT_07 = /^https?:\/\/json-schema\.org\/draft-0[4-7]\/schema#?$/;

/** Why arguments were refused: they do not fit the schema, or name what it does not declare. */
export interface ArgumentProblem {
  kind: 'invalid' | 'undeclared' | 'schema';
  message: string;
}

export class ArgumentValidator {
  // Keyed by the schema object: the catalogue makes a new one whenever a definition changes.
  private readonly compiled = new WeakMap<object, ValidateFunction | Error>();
  private readonly draft7 = new Ajv({ strict: false, allErrors: false, validateFormats: false, logger: false });
  private readonly draft2020 = new Ajv2020({ strict: false, allErrors: false, validateFormats: false, logger: false });

  /** Null when the arguments fit; otherwise what is wrong, naming the argument. */
  check(tool: ToolSpec, args: Record<string, unknown>): ArgumentProblem | null {
    const schema = tool.inputSchema;
    if (!schema) {
      // A tool with no known schema declares nothing: only `additionalArguments: allow` lets arguments through.
      const keys = Object.keys(args);
      if (keys.length && tool.additionalArguments !== 'allow') return undeclared(tool, keys);
      return null;
    }
    if (tool.additionalArguments !== 'allow') {
      const props = (schema.properties && typeof schema.properties === 'object' ? schema.properties : {}) as Record<string, unknown>;
      const extra = Object.keys(args).filter((k) => !Object.hasOwn(props, k));
      if (extra.length) return undeclared(tool, extra);
    }
    const validate = this.validator(schema);
    if (validate instanceof Error) return { kind: 'schema', message: `the input schema of ${q(tool.name)} cannot be used to check arguments (${validate.message}); calls are refused until it is fixed upstream or in mandate.yaml` };
    if (validate(args)) return null;
    const e = validate.errors?.[0];
    const where = e?.instancePath ? `argument ${q(e.instancePath.slice(1).replaceAll('/', '.'))}` : 'arguments';
    const detail = e?.keyword === 'required' ? `missing required argument ${q((e.params as { missingProperty: string }).missingProperty)}` : `${where} ${e?.message ?? 'do not match the schema'}`;
    return { kind: 'invalid', message: `invalid arguments for ${q(tool.name)}: ${detail}` };
  }

  /**
   * Null when a result fits the tool's pinned output schema (or it declares none); otherwise why
   * not. As a direct MCP client would: a tool with an output schema must return matching
   * `structuredContent` unless the result is an error.
   */
  checkOutput(tool: ToolSpec, result: { structuredContent?: unknown; isError?: boolean | undefined }): string | null {
    const schema = tool.outputSchema;
    if (!schema || result.isError) return null;
    if (result.structuredContent === undefined) return `tool ${q(tool.name)} has an output schema but returned no structured content`;
    const validate = this.validator(schema);
    if (validate instanceof Error) return `the output schema of ${q(tool.name)} cannot be used (${validate.message})`;
    if (validate(result.structuredContent)) return null;
    const e = validate.errors?.[0];
    return `structured content of ${q(tool.name)} does not match its pinned output schema: ${e?.instancePath ? `${q(e.instancePath.slice(1).replaceAll('/', '.'))} ` : ''}${e?.message ?? 'mismatch'}`;
  }

  private validator(schema: Record<string, unknown>): ValidateFunction | Error {
    let v = this.compiled.get(schema);
    if (v) return v;
    const declared = typeof schema.$schema === 'string' ? schema.$schema : undefined;
    const { $schema: _s, $id: _id, ...body } = schema;
    try {
      v = (declared && DRAFT_07.test(declared) ? this.draft7 : this.draft2020).compile(body);
    } catch (err) {
      v = err instanceof Error ? err : new Error(String(err));
    }
    this.compiled.set(schema, v);
    return v;
  }
}

function undeclared(tool: ToolSpec, keys: string[]): ArgumentProblem {
  return {
    kind: 'undeclared',
    message: `${keys.length > 1 ? 'arguments' : 'argument'} ${keys.map((k) => q(k)).join(', ')} ${keys.length > 1 ? 'are' : 'is'} not declared by the input schema of ${q(tool.name)}: refused (an administrator can set \`additionalArguments: allow\` for this tool in mandate.yaml)`,
  };
}
