// The language service in process: diagnostics against `lmpc check --json`, quick fixes, range
// formatting, semantic tokens, stale versions, the debouncer, and the parser's fuzz corpus
// replayed through every handler (never an exception, every range inside the document).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LSPErrorCodes, ResponseError, type Range } from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { main } from '../cli.js';
import { examples, EXAMPLES_DIR, fuzzCorpus, rng } from '../../grammar/test-util.js';
import { lookupBuiltin, type Category } from '../registry/index.js';
import { callSnippet } from './completion.js';
import { Debouncer, LEAD_MS } from './server.js';
import { LmpService } from './service.js';
import { LEGEND } from './semantic.js';
import { applyEdits, TestHost } from './test-host.js';

interface CliDiag {
  code: string;
  message: string;
  line: number;
  col: number;
  endLine: number;
  endCol: number;
  help?: string;
  notes: { message: string; file?: string; line?: number; col?: number }[];
}

async function cliCheck(path: string): Promise<CliDiag[]> {
  let out = '';
  await main(['check', path, '--json'], { stdout: (s) => (out += s), stderr: () => undefined });
  return (JSON.parse(out) as { files: { diagnostics: CliDiag[] }[] }).files[0]!.diagnostics;
}

function inputFiles(): string[] {
  const files = examples().map(([n]) => join(EXAMPLES_DIR, n));
  for (const c of readdirSync('spec/conformance').sort()) {
    const p = join('spec/conformance', c, 'input.lmp');
    if (existsSync(p)) files.push(resolve(p));
  }
  return files;
}

describe('diagnostics', () => {
  it('are lmpc check\'s: codes, messages, notes, help, and ranges from the spans (every example and conformance input)', async () => {
    let n = 0;
    for (const file of inputFiles()) {
      const host = new TestHost();
      const uri = pathToFileURL(file).href;
      host.open(readFileSync(file, 'utf8'), uri);
      const lsp = host.service.diagnostics(uri)!.diagnostics;
      const cli = await cliCheck(file);
      expect(lsp.map((d) => d.code), file).toEqual(cli.map((d) => d.code));
      cli.forEach((c, i) => {
        const d = lsp[i]!;
        const lines = [c.message, ...c.notes.map((x) => `note: ${x.file ? `${x.file}:${x.line}:${x.col} - ` : ''}${x.message}`), ...(c.help ? [`help: ${c.help}`] : [])];
        expect(d.message, `${file} ${c.code}`).toBe(lines.join('\n'));
        expect(d.range, `${file} ${c.code}`).toEqual({ start: { line: c.line - 1, character: c.col - 1 }, end: { line: c.endLine - 1, character: c.endCol - 1 } });
        expect(d.source).toBe('lmpc');
        n++;
      });
    }
    expect(n).toBeGreaterThan(60);
  });

  it('point notes with a place at it (related information)', () => {
    const host = new TestHost();
    const { uri } = host.open('data d { source text("a") }\ntrain t { model d data d steps 1 }\n');
    const d = host.service.diagnostics(uri)!.diagnostics.find((x) => x.code === 'LMP0203')!;
    expect(d.relatedInformation).toEqual([{ location: { uri, range: { start: { line: 0, character: 5 }, end: { line: 0, character: 6 } } }, message: "'d' is declared here" }]);
  });
});

describe('code actions', () => {
  /** Apply the first fix at the first diagnostic with `code`; return the new text and its codes. */
  function fix(text: string, code: string, title?: string) {
    const host = new TestHost();
    const { uri } = host.open(text);
    const d = host.service.diagnostics(uri)!.diagnostics.find((x) => x.code === code);
    expect(d, code).toBeDefined();
    const actions = host.service.codeActions({ textDocument: { uri }, range: d!.range });
    const a = title ? actions.find((x) => x.title === title) : actions[0];
    expect(a, `${code}: ${actions.map((x) => x.title).join(', ')}`).toBeDefined();
    expect(a!.diagnostics?.[0]?.code).toBe(code);
    const next = applyEdits(text, a!.edit!.changes![uri]!);
    host.change(uri, next);
    return { text: next, codes: host.service.diagnostics(uri)!.diagnostics.map((x) => x.code), titles: actions.map((x) => x.title) };
  }

  it("a misspelled built-in: the checker's suggestion", () => {
    const r = fix('attention a { mask causl & window(4) }\n', 'LMP0301');
    expect(r.text).toBe('attention a { mask causal & window(4) }\n');
    expect(r.codes).toEqual([]);
  });
  it('a misspelled clause keyword (the parser\'s note) and parameter (the checker\'s help)', () => {
    expect(fix('data d { sorce text("a") }\n', 'LMP0103').text).toBe('data d { source text("a") }\n');
    expect(fix('decode x { policy top_k(kk: 4) }\n', 'LMP0302').text).toBe('decode x { policy top_k(k: 4) }\n');
  });
  it('a misspelled reference', () => {
    const r = fix('model tiny { arch llama(dim: 64, layers: 1, heads: 2, ffn: 128) }\ndecode x { model tiyn }\n', 'LMP0202');
    expect(r.text).toContain('decode x { model tiny }');
    expect(r.codes).toEqual([]);
  });
  it('not a power of two: the nearest ones', () => {
    const r = fix('attention a { mask causal tile 100 }\n', 'LMP0311', 'Use 128');
    expect(r.titles).toEqual(['Use 64', 'Use 128']);
    expect(r.text).toBe('attention a { mask causal tile 128 }\n');
    expect(r.codes).toEqual(['LMP0314']); // fixed; what is left is the warning that tile has no effect on the CPU kernels
  });
  it('reposition without eviction; a zero weight', () => {
    const r = fix('attention a {\n  mask causal\n  cache full() reposition\n}\n', 'LMP0505');
    expect(r.text).toBe('attention a {\n  mask causal\n  cache full()\n}\n');
    expect(r.codes).toEqual([]);
    const w = fix('curriculum c {\n  tokens_per_step 4k\n  weights {256: 0, 512: 1}\n}\n', 'LMP0404');
    expect(w.text).toBe('curriculum c {\n  tokens_per_step 4k\n  weights {512: 1}\n}\n');
    expect(w.codes).not.toContain('LMP0404');
  });
  it('none where the help names no fix', () => {
    const host = new TestHost();
    const { uri } = host.open('model m { arch llama(dim: 100, layers: 1, heads: 3, ffn: 8) }\n');
    const all = { start: { line: 0, character: 0 }, end: { line: 1, character: 0 } };
    expect(host.service.diagnostics(uri)!.diagnostics.map((d) => d.code)).toEqual(['LMP0702']);
    expect(host.service.codeActions({ textDocument: { uri }, range: all })).toEqual([]);
  });
});

describe('completion snippets', () => {
  it('call a built-in with its required parameters (positional when it is the first, else named); bare masks', () => {
    const snippet = (cat: Category, name: string) => callSnippet(lookupBuiltin(cat, name)!);
    expect(snippet('mask', 'window')).toBe('window(${1:size})');
    expect(snippet('mask', 'lambda')).toBe('lambda(global: ${1:global}, window: ${2:window})');
    expect(snippet('mask', 'causal')).toBe('causal');
    expect(snippet('sampler', 'greedy')).toBe('greedy');
    expect(snippet('tokenizer', 'bytes')).toBe('bytes()');
    expect(snippet('position', 'rope')).toBe('rope($1)');
    expect(snippet('arch', 'llama')).toBe('llama(dim: ${1:dim}, layers: ${2:layers}, heads: ${3:heads}, ffn: ${4:ffn})');
  });
});

describe('formatting', () => {
  const messy = 'data   a{source text("a")}\n\ndata b{source text("b")  holdout 2%}\n';
  it('a range formats only the declarations it touches; the whole range equals the document', () => {
    const host = new TestHost();
    const { uri } = host.open(messy);
    const second: Range = { start: { line: 2, character: 3 }, end: { line: 2, character: 5 } };
    const part = applyEdits(messy, host.service.rangeFormatting({ textDocument: { uri }, range: second }));
    expect(part).toBe('data   a{source text("a")}\n\ndata b {\n  source text("b")\n  holdout 2%\n}\n');
    const all = applyEdits(messy, host.service.rangeFormatting({ textDocument: { uri }, range: { start: { line: 0, character: 0 }, end: { line: 3, character: 0 } } }));
    expect(all).toBe(applyEdits(messy, host.service.formatting({ textDocument: { uri } })));
    expect(all).toBe('data a {\n  source text("a")\n}\n\ndata b {\n  source text("b")\n  holdout 2%\n}\n');
  });
  it('leaves a file with syntax errors alone', () => {
    const host = new TestHost();
    const { uri } = host.open('data   a{source text("a"\n');
    expect(host.service.formatting({ textDocument: { uri } })).toEqual([]);
  });
});

describe('semantic tokens', () => {
  it('classify by what the parser and the checker saw', () => {
    const host = new TestHost();
    const text = 'data speeches { source text("a") weight 2 }\n/* a\nb */\ntrain t { data speeches steps 4k }\n';
    const { uri } = host.open(text);
    const { data } = host.service.semanticTokens({ textDocument: { uri } });
    const doc = TextDocument.create(uri, 'lmp', 1, text);
    const got: string[] = [];
    let line = 0;
    let ch = 0;
    for (let i = 0; i < data.length; i += 5) {
      line += data[i]!;
      ch = data[i]! === 0 ? ch + data[i + 1]! : data[i + 1]!;
      const start = doc.offsetAt({ line, character: ch });
      const mods = LEGEND.tokenModifiers.filter((_, b) => data[i + 4]! & (1 << b));
      got.push(`${text.slice(start, start + data[i + 2]!)}:${LEGEND.tokenTypes[data[i + 3]!]}${mods.length ? '.' + mods.join('.') : ''}`);
    }
    expect(got).toEqual([
      'data:keyword', 'speeches:variable.declaration', 'source:keyword', 'text:function.defaultLibrary', '"a":string', 'weight:keyword', '2:number',
      '/* a:comment', 'b */:comment',
      'train:keyword', 't:variable.declaration', 'data:keyword', 'speeches:variable', 'steps:keyword', '4k:number',
    ]);
  });
});

describe('versions', () => {
  it('a request whose document changed while it waited fails with ContentModified, never with the old ranges', async () => {
    const host = new TestHost();
    const text = 'attention a { mask causal }\nmodel m {\n  arch llama(dim: 64, layers: 1, heads: 2, ffn: 128)\n  attention a\n}\n';
    const { uri } = host.open(text);
    const pending = host.service.hover({ textDocument: { uri }, position: { line: 0, character: 15 } });
    host.change(uri, '\n\n' + text);
    const err = await pending.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ResponseError);
    expect((err as ResponseError<unknown>).code).toBe(LSPErrorCodes.ContentModified);
    // Asked again, it answers for the new text (two lines down).
    const h = await host.service.hover({ textDocument: { uri }, position: { line: 2, character: 15 } });
    expect(h?.range).toEqual({ start: { line: 2, character: 14 }, end: { line: 2, character: 18 } });
  });
  it('each version is analyzed once and requests read their own snapshot', () => {
    const host = new TestHost();
    const { uri } = host.open('data d { source text("a") }\n');
    const v1 = host.service.document(uri)!;
    expect(host.service.document(uri)).toBe(v1);
    host.change(uri, 'data d { source text("a") holdout 2% }\n');
    const v2 = host.service.document(uri)!;
    expect(v2).not.toBe(v1);
    expect([v1.version, v2.version]).toEqual([1, 2]);
    expect(v1.text).toBe('data d { source text("a") }\n');
  });
});

describe('debouncer', () => {
  afterEach(() => void vi.useRealTimers());
  it('checks a change after a quiet spell at once (after LEAD_MS), and folds a burst into one check at the window end', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const runs: number[] = [];
    const d = new Debouncer(100, () => runs.push(performance.now()));
    // Advance the fake clock, then let the real setImmediate the debouncer ends with run.
    const advance = async (ms: number) => {
      vi.advanceTimersByTime(ms);
      await new Promise((r) => setImmediate(r));
    };
    const t0 = performance.now();
    d.schedule('u');
    await advance(LEAD_MS - 1);
    expect(runs).toEqual([]);
    await advance(1);
    expect(runs.map((t) => t - t0)).toEqual([LEAD_MS]);
    for (let i = 0; i < 5; i++) {
      await advance(10);
      d.schedule('u');
    }
    await advance(100 + LEAD_MS - 55); // the burst ended at LEAD_MS + 50
    expect(runs.length).toBe(1);
    await advance(1);
    expect(runs.map((t) => t - t0)).toEqual([LEAD_MS, 100 + LEAD_MS]);
    await advance(500);
    d.schedule('u');
    await advance(LEAD_MS);
    expect(runs.length).toBe(3);
    d.schedule('u');
    d.cancel('u');
    await advance(1000);
    expect(runs.length).toBe(3);
  });
});

describe('fuzz corpus through the server', () => {
  it('every handler answers every mutation of the examples, with ranges inside the document', async () => {
    const cpu0 = process.cpuUsage();
    const docs = new Map<string, TextDocument>();
    const service = new LmpService((u) => docs.get(u), { explain: false });
    const rand = rng(7);
    const problems: string[] = [];
    let requests = 0;
    const corpus = fuzzCorpus();
    for (let k = 0; k < corpus.length; k++) {
      const { text, ops, from } = corpus[k]!;
      const uri = `file:///fuzz/${k}.lmp`;
      const doc = TextDocument.create(uri, 'lmp', 1, text);
      docs.set(uri, doc);
      const lines = text.split(/\r\n|\r|\n/);
      const inside = (r: Range | undefined, what: string): void => {
        if (!r) return;
        for (const p of [r.start, r.end]) {
          if (p.line < 0 || p.line >= lines.length || p.character < 0 || p.character > lines[p.line]!.length) problems.push(`${what} ${JSON.stringify(r)} outside (${ops.join(', ')} of ${from})`);
        }
      };
      const td = { textDocument: { uri } };
      try {
        for (const d of service.diagnostics(uri)!.diagnostics) inside(d.range, 'diagnostic');
        for (const s of service.documentSymbols(td)) inside(s.range, 'symbol');
        requests += 2;
        // Every other case: the whole-document requests.
        if (k % 2 === 0) {
          service.semanticTokens(td);
          for (const e of service.formatting(td)) inside(e.range, 'format edit');
          const all = { start: { line: 0, character: 0 }, end: doc.positionAt(text.length) };
          for (const a of service.codeActions({ ...td, range: all })) for (const e of a.edit!.changes![uri]!) inside(e.range, 'fix');
          requests += 3;
        }
        // Every third case: position requests at three random offsets.
        if (k % 3 === 0) {
          for (let j = 0; j < 3; j++) {
            const position = doc.positionAt(Math.floor(rand() * (text.length + 1)));
            const at = { ...td, position };
            for (const c of service.completion(at)) if (c.textEdit && 'range' in c.textEdit) inside(c.textEdit.range, 'completion edit');
            inside((await service.hover(at))?.range, 'hover');
            inside(service.definition(at)?.range, 'definition');
            for (const l of service.references({ ...at, context: { includeDeclaration: true } })) inside(l.range, 'reference');
            const pr = service.prepareRename(at);
            inside(pr?.range, 'prepareRename');
            if (pr) for (const e of service.rename({ ...at, newName: 'renamed_x' })!.changes![uri]!) inside(e.range, 'rename');
            requests += 6;
          }
        }
      } catch (e) {
        throw new Error(`a handler threw on a mutation (${ops.join(', ')}) of ${from}: ${e instanceof Error ? e.stack : String(e)}\n---\n${text}`);
      }
      docs.delete(uri);
      service.close(uri);
    }
    expect(problems.slice(0, 10)).toEqual([]);
    expect(requests).toBeGreaterThan(20_000);
    const used = process.cpuUsage(cpu0);
    expect((used.user + used.system) / 1000).toBeLessThan(60_000);
  });
});
