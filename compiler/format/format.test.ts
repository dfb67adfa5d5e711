import { describe, expect, it } from 'vitest';
import { parse } from '../../grammar/index.js';
import { examples, fuzzCorpus, stripSpans } from '../../grammar/test-util.js';
import { format, formatSource } from './index.js';

/** Format, then check: idempotent, same tree modulo spans, every comment kept. */
function roundTrip(text: string, file = 't.lmp'): string {
  const first = parse(text, file);
  expect(first.diagnostics).toEqual([]);
  const out = format(first.program, text);
  const second = parse(out, file);
  expect(second.diagnostics.map((d) => d.message)).toEqual([]);
  expect(stripSpans(second.program.decls)).toEqual(stripSpans(first.program.decls));
  const texts = (cs: readonly { text: string; block: boolean }[]) => cs.map((c) => (c.block ? c.text.replace(/\r\n?/g, '\n') : c.text.trimEnd()));
  expect(texts(second.program.comments)).toEqual(texts(first.program.comments));
  expect(format(second.program, out)).toBe(out);
  return out;
}

describe('format', () => {
  it.each(examples())('%s is already canonical, and round-trips', (file, text) => {
    expect(roundTrip(text, file)).toBe(text);
  });

  it('canonicalizes layout and spacing', () => {
    const src = [
      'tokenizer   t=bytes( )',
      'data d from   base{ source text( "a" ) weight 0.25  pack decompose( min:256,max:8k ) }',
      'attention a { mask causal&(sink(4)|window(1k))  position rope() limit 1k cache keep(sink(4) | window(1k)) reposition }',
      'attention e{}',
      'optimize o { vary x in [1,2,  3,]  budget {trials:40,time:30min} subject to a.b<50ms }',
      'decode q { policy a->b->c  cascade s -> b defer when quantile(logprob , 0.1)< -2.5 trace entropy,surprise }',
      'train t { schedule warmup(100)then cosine(to:10%) eval every 200:perplexity(x, by:length) optimizer adamw(betas:(0.9,0.95), x: (1,)) }',
      'attention h { heads 0 .. 3 : !causal&prefix(64) ; tile {cpu: 64} }',
    ].join('\n');
    expect(roundTrip(src)).toBe(
      [
        'tokenizer t = bytes()',
        '',
        'data d from base {',
        '  source text("a") weight 0.25',
        '  pack decompose(min: 256, max: 8k)',
        '}',
        '',
        'attention a {',
        '  mask causal & (sink(4) | window(1k))',
        '  position rope() limit 1k',
        '  cache keep(sink(4) | window(1k)) reposition',
        '}',
        '',
        'attention e {}',
        '',
        'optimize o {',
        '  vary x in [1, 2, 3]',
        '  budget {trials: 40, time: 30min}',
        '  subject to a.b < 50ms',
        '}',
        '',
        'decode q {',
        '  policy a -> b -> c',
        '  cascade s -> b defer when quantile(logprob, 0.1) < -2.5',
        '  trace entropy, surprise',
        '}',
        '',
        'train t {',
        '  schedule warmup(100) then cosine(to: 10%)',
        '  eval every 200: perplexity(x, by: length)',
        '  optimizer adamw(betas: (0.9, 0.95), x: (1,))',
        '}',
        '',
        'attention h {',
        '  heads 0..3: !causal & prefix(64)',
        '  tile {cpu: 64}',
        '}',
        '',
      ].join('\n'),
    );
  });

  it("writes ';' where the next clause would read as a modifier", () => {
    expect(roundTrip('data d { holdout 2%; seed 7 }')).toBe('data d {\n  holdout 2%;\n  seed 7\n}\n');
    expect(roundTrip('data d { holdout 2% seed 1; seed 7 }')).toBe('data d {\n  holdout 2% seed 1\n  seed 7\n}\n');
    expect(roundTrip('data d { seed 7; holdout 2% }')).toBe('data d {\n  seed 7\n  holdout 2%\n}\n');
  });

  it('keeps literals as written and parentheses as written', () => {
    const out = roundTrip('curriculum c = fixed((8_192), tokens_per_step: 2^16)\ndecode d { stop "a\\tb\\u{41}" }');
    expect(out).toBe('curriculum c = fixed((8_192), tokens_per_step: 2^16)\n\ndecode d {\n  stop "a\\tb\\u{41}"\n}\n');
  });

  it('keeps every comment: leading above, trailing on the line, inner moved above', () => {
    const src = [
      '// header',
      '',
      '// about t',
      'tokenizer t = bytes()   // trailing t   ',
      'data d /* header */ from base { // open',
      '  source text("a") weight 0.25 // w',
      '  /* before pack */ pack decompose(min: 256, /* inside */ max: 8k)',
      '',
      '',
      '  seed 7 /* block */ // line',
      '  // dangling',
      '}   // after d',
      'model m = llama(dim: 4, // inside line',
      '  layers: 2)',
      '/* trailing',
      '   block */',
    ].join('\r\n');
    expect(roundTrip(src)).toBe(
      [
        '// header',
        '',
        '// about t',
        'tokenizer t = bytes()  // trailing t',
        '',
        '/* header */',
        'data d from base {  // open',
        '  source text("a") weight 0.25  // w',
        '  /* before pack */',
        '  /* inside */',
        '  pack decompose(min: 256, max: 8k)',
        '',
        '  seed 7  /* block */ // line',
        '  // dangling',
        '}  // after d',
        '',
        '// inside line',
        'model m = llama(dim: 4, layers: 2)',
        '',
        '/* trailing',
        '   block */',
        '',
      ].join('\n'),
    );
  });

  it('formats an empty file and a file of comments', () => {
    expect(roundTrip('')).toBe('');
    expect(roundTrip('\n\n// only\n\n\n/* c */\n')).toBe('// only\n\n/* c */\n');
    expect(roundTrip('data d { // a\n}')).toBe('data d {  // a\n}\n');
  });

  it('formatSource refuses a file with syntax errors', () => {
    const bad = formatSource('data d { source }', 'bad.lmp');
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.diagnostics.map((d) => d.code)).toEqual(['LMP0111']);
    expect(formatSource('data d{seed 1}', 'ok.lmp')).toEqual({ ok: true, text: 'data d {\n  seed 1\n}\n' });
  });

  it('round-trips every error-free program of the parser fuzz corpus', () => {
    // The same checks as roundTrip, compared as JSON for speed; a failure re-runs roundTrip
    // on that program for a readable diff.
    const same = (a: unknown, b: unknown) => JSON.stringify(stripSpans(a)) === JSON.stringify(stripSpans(b));
    let n = 0;
    for (const { text } of fuzzCorpus()) {
      const first = parse(text, 'f.lmp');
      if (first.diagnostics.length > 0) continue;
      n++;
      const out = format(first.program, text);
      const second = parse(out, 'f.lmp');
      const ok =
        second.diagnostics.length === 0 &&
        same(first.program.decls, second.program.decls) &&
        first.program.comments.length === second.program.comments.length &&
        format(second.program, out) === out;
      if (!ok) roundTrip(text, 'f.lmp');
    }
    expect(n).toBeGreaterThan(300);
  });
});
