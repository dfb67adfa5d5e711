// The human form of an explain report: aligned tables, one section per declaration kind.
import type { ExplainReport } from './report.js';

const SI = ['', 'k', 'M', 'G', 'T', 'P', 'E'];

/** 1.23 T style (powers of 1000) for FLOPs and counts. */
export function si(x: number, unit = ''): string {
  if (!Number.isFinite(x)) return String(x);
  let i = 0;
  let v = Math.abs(x);
  while (v >= 1000 && i < SI.length - 1) {
    v /= 1000;
    i++;
  }
  const s = v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${x < 0 ? '-' : ''}${s} ${SI[i]}${unit}`.trimEnd();
}

/** Bytes with binary prefixes. */
export function bytesText(x: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = x;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v.toFixed(0) : v.toFixed(v >= 100 ? 0 : 1)} ${u[i]}`;
}

/** Lengths as written in .lmp: 8192 -> 8k. */
export function lenText(n: number): string {
  return n >= 1024 && n % 1024 === 0 ? `${n / 1024}k` : String(n);
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ').trimEnd();
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

export function renderReport(r: ExplainReport): string {
  const out: string[] = [];
  out.push(`lmpc explain ${r.file}   (memory at ${r.bytesPerElement} bytes per element; FLOPs per optimizer step, forward + backward)`);

  for (const d of r.datasetDecomposition) {
    out.push('');
    out.push(`Dataset Decomposition (train ${d.train}, max ${lenText(d.max)}), attention FLOPs per step vs concat-and-chunk, equal tokens per step:`);
    out.push(`  DD(${lenText(d.max)}) / CC(${lenText(d.max)}) = ${d.vsMax.toFixed(3)}    DD(${lenText(d.max)}) / CC(2k) = ${d.vs2k.toFixed(3)}    costs like CC at ${lenText(Math.round(d.equivalentContext))} tokens`);
    out.push(`  (every packed token once: / CC(${lenText(d.max)}) = ${d.tokenWeighted.vsMax.toFixed(3)}, / CC(2k) = ${d.tokenWeighted.vs2k.toFixed(3)}, like CC at ${Math.round(d.tokenWeighted.equivalentContext)})`);
    out.push(`  document lengths: ${d.lengths}`);
  }

  if (r.models.length) {
    out.push('', 'models');
    out.push(
      table(
        ['model', 'd', 'L', 'H', 'kv', 'ffn', 'V', 'params', 'N (matmul)', 'FLOPs/token fwd', 'train', 'KV/token'],
        r.models.map((m) =>
          m.shape
            ? [m.name, String(m.shape.dim), String(m.shape.layers), String(m.shape.heads), String(m.shape.kvHeads), String(m.shape.ffn), String(m.shape.vocab), si(m.parameters!), si(m.matmulParameters!), si(m.flopsPerToken!.forward), si(m.flopsPerToken!.train), bytesText(m.kvBytesPerToken!)]
            : [m.name, '', '', '', '', '', '', '', '', '', '', m.note ?? ''],
        ),
      ),
    );
  }

  for (const t of r.trains) {
    out.push('', `train ${t.name}: model ${t.model}, data ${t.data} (${t.packer}), ${t.curriculum}, ${si(t.tokensPerStep)} tokens/step${t.steps !== undefined ? `, ${t.steps} steps` : ''}`);
    out.push(`  mask ${t.mask}; lengths: ${t.lengths.source}, ${t.lengths.documents} documents, ${si(t.lengths.tokens)} tokens (${si(t.packed.tokensDropped)} dropped by the packer)`);
    out.push(`  bucket mix: ${t.mix.how}`);
    const rows = t.buckets.map((b) => [
      lenText(b.length),
      pct(b.stepFraction),
      pct(b.tokenShare),
      String(b.available),
      String(b.sequences),
      b.density.toFixed(4),
      b.computedTiles === undefined ? '' : pct(b.computedTiles),
      si(b.attentionFlops),
      si(b.tokenFlops),
      si(b.totalFlops),
      bytesText(b.activationBytes),
      bytesText(b.unfusedScoreBytes),
      bytesText(b.kvBytes),
    ]);
    rows.push(['mean', '100%', '', '', '', t.mean.density.toFixed(4), '', si(t.mean.attentionFlops), si(t.mean.tokenFlops), si(t.mean.totalFlops), bytesText(t.mean.activationBytes), bytesText(t.mean.unfusedScoreBytes), bytesText(t.mean.kvBytes)]);
    for (const b of t.baselines) {
      rows.push([`CC ${lenText(b.length)}`, '', '', '', String(t.tokensPerStep / b.length), ((b.length + 1) / (2 * b.length)).toFixed(4), '', si(b.attentionFlops), si(t.baseline.tokenFlops), si(b.totalFlops), '', '', '']);
    }
    out.push(
      table(['length', 'steps', 'tokens', 'seqs avail', 'seqs/step', 'density', 'tiles run', 'attn FLOPs', 'token FLOPs', 'total', 'activations', '+unfused', 'K,V'], rows)
        .split('\n')
        .map((l) => '  ' + l)
        .join('\n'),
    );
    out.push(`  vs concat-and-chunk (causal): ${t.baselines.map((b) => `/ CC ${lenText(b.length)}: attention ${b.ratio.attention.toFixed(3)}, total ${b.ratio.total.toFixed(3)}`).join(';  ')}`);
    out.push(`  attention cost per step equals CC at ${Math.round(t.equivalentContext)} tokens`);
    for (const n of t.notes) out.push(`  note: ${n}`);
  }

  for (const a of r.attentions) {
    out.push('', `attention ${a.name}: ${a.mask}; tile ${a.tile}${a.heads !== undefined ? `, ${a.heads} heads` : ''}; cache ${a.cache.policy}`);
    const kv = a.kv.map((k) => `${bytesText(k.bytesPerToken)}/token (${k.model})`).join(', ') || 'no model uses it';
    out.push(`  KV cache: ${kv}; ${a.cache.bound !== undefined ? `bounded at ${a.cache.bound} positions` : 'grows with the sequence'}`);
    out.push(
      table(
        ['length', 'density', 'tiles', 'skipped', 'full', 'partial', 'cached'],
        a.at.map((x, i) => [lenText(x.length), x.density.toFixed(4), String(x.tiles), pct(x.empty), pct(x.full), pct(x.partial), String(a.cache.keptAt[i]?.kept ?? '')]),
      )
        .split('\n')
        .map((l) => '  ' + l)
        .join('\n'),
    );
    out.push(`  lengths: ${a.lengthsFrom}`);
    for (const n of a.notes) out.push(`  note: ${n}`);
  }

  for (const d of r.decodes) {
    out.push('', `decode ${d.name}${d.model ? `: model ${d.model}` : ''}${d.kvBytesPerToken !== undefined ? `, KV ${bytesText(d.kvBytesPerToken)}/token` : ''}${d.maxTokens !== undefined ? `, max ${d.maxTokens} tokens` : ''}`);
    if (d.chain.length) {
      out.push(
        table(['#', 'sampler', 'role', 'state kept across steps'], d.chain.map((s, i) => [String(i + 1), s.sampler, s.role, s.state]))
          .split('\n')
          .map((l) => '  ' + l)
          .join('\n'),
      );
    } else out.push('  no policy chain');
    for (const w of d.warnings) out.push(`  ${w}`);
  }
  for (const s of r.skipped) out.push('', `not costed: ${s}`);
  return out.join('\n') + '\n';
}
