// Copies the generated grammar (grammar/lmp.tmLanguage.json, the one source) into the extension:
// VS Code reads contributed grammars only from inside the extension's folder.
import { copyFileSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const from = join(here, '..', '..', '..', 'grammar', 'lmp.tmLanguage.json');
const dir = join(here, '..', 'syntaxes');
if (!existsSync(dir)) mkdirSync(dir);
const to = join(dir, 'lmp.tmLanguage.json');
copyFileSync(from, to + '.tmp');
renameSync(to + '.tmp', to);
console.log(`copied ${from} -> ${to}`);
