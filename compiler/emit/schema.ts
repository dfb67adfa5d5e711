// A small JSON Schema validator for the subset spec/kernels.schema.json uses (draft 2020-12):
// type (one or a list; 'integer' = whole number), const, enum, properties, required,
// additionalProperties (false or a schema), items, minItems, minimum, maximum,
// exclusiveMinimum, pattern, oneOf (exactly one), anyOf, and local $ref (#/$defs/...).
// Anything else in a schema is an error, so the schema cannot silently use an unchecked keyword.
export type Schema = { readonly [k: string]: unknown };

const KNOWN = new Set([
  '$schema', '$id', 'title', 'description', '$defs', '$ref', 'type', 'const', 'enum', 'properties', 'required',
  'additionalProperties', 'items', 'minItems', 'minimum', 'maximum', 'exclusiveMinimum', 'pattern', 'oneOf', 'anyOf',
]);

export interface SchemaError {
  readonly path: string;
  readonly message: string;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function hasType(v: unknown, t: string): boolean {
  if (t === 'integer') return typeof v === 'number' && Number.isInteger(v);
  if (t === 'number') return typeof v === 'number' && Number.isFinite(v);
  return typeOf(v) === t;
}

export function validateSchema(root: Schema, value: unknown): SchemaError[] {
  const errors: SchemaError[] = [];
  const resolveRef = (ref: string): Schema => {
    const m = /^#\/\$defs\/([A-Za-z0-9_]+)$/.exec(ref);
    const defs = root['$defs'] as Record<string, Schema> | undefined;
    const s = m ? defs?.[m[1]!] : undefined;
    if (!s) throw new Error(`schema: unresolvable $ref ${ref}`);
    return s;
  };
  const check = (s: Schema, v: unknown, path: string, out: SchemaError[]): void => {
    for (const k of Object.keys(s)) if (!KNOWN.has(k)) throw new Error(`schema: unsupported keyword '${k}' at ${path}`);
    const err = (message: string) => out.push({ path: path || '/', message });
    if (typeof s['$ref'] === 'string') check(resolveRef(s['$ref']), v, path, out);
    if (s['type'] !== undefined) {
      const ts = Array.isArray(s['type']) ? (s['type'] as string[]) : [s['type'] as string];
      if (!ts.some((t) => hasType(v, t))) return void err(`expected ${ts.join(' or ')}, found ${typeOf(v)}`);
    }
    if ('const' in s && JSON.stringify(s['const']) !== JSON.stringify(v)) err(`expected ${JSON.stringify(s['const'])}`);
    if (Array.isArray(s['enum']) && !s['enum'].some((e) => JSON.stringify(e) === JSON.stringify(v))) err(`expected one of ${JSON.stringify(s['enum'])}, found ${JSON.stringify(v)}`);
    if (typeof v === 'number') {
      if (typeof s['minimum'] === 'number' && v < s['minimum']) err(`${v} < minimum ${s['minimum']}`);
      if (typeof s['maximum'] === 'number' && v > s['maximum']) err(`${v} > maximum ${s['maximum']}`);
      if (typeof s['exclusiveMinimum'] === 'number' && v <= s['exclusiveMinimum']) err(`${v} <= exclusive minimum ${s['exclusiveMinimum']}`);
    }
    if (typeof v === 'string' && typeof s['pattern'] === 'string' && !new RegExp(s['pattern']).test(v)) err(`'${v}' does not match ${s['pattern']}`);
    if (Array.isArray(v)) {
      if (typeof s['minItems'] === 'number' && v.length < s['minItems']) err(`fewer than ${s['minItems']} items`);
      if (s['items'] && typeof s['items'] === 'object') v.forEach((x, i) => check(s['items'] as Schema, x, `${path}/${i}`, out));
    }
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const props = (s['properties'] ?? {}) as Record<string, Schema>;
      if (Array.isArray(s['required'])) for (const r of s['required'] as string[]) if (!(r in o)) err(`missing property '${r}'`);
      for (const [k, x] of Object.entries(o)) {
        if (props[k]) check(props[k], x, `${path}/${k}`, out);
        else if (s['additionalProperties'] === false) err(`unexpected property '${k}'`);
        else if (s['additionalProperties'] && typeof s['additionalProperties'] === 'object') check(s['additionalProperties'] as Schema, x, `${path}/${k}`, out);
      }
    }
    for (const key of ['oneOf', 'anyOf'] as const) {
      const alts = s[key];
      if (!Array.isArray(alts)) continue;
      const results = alts.map((a) => {
        const e: SchemaError[] = [];
        check(a as Schema, v, path, e);
        return e;
      });
      const ok = results.filter((r) => r.length === 0).length;
      if (key === 'oneOf' && ok !== 1) {
        if (ok === 0) {
          const best = results.reduce((a, b) => (b.length < a.length ? b : a));
          out.push(...best);
          if (best.length === 0) err('matches no alternative of oneOf');
        } else err(`matches ${ok} alternatives of oneOf, expected exactly one`);
      }
      if (key === 'anyOf' && ok === 0) err('matches no alternative of anyOf');
    }
  };
  check(root, value, '', errors);
  return errors;
}
