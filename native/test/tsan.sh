#!/usr/bin/env bash
# ThreadSanitizer check of the native code (`npm run test:tsan`; .ci/run calls it).
#  1. native/test/pool_test.cc (the pool alone, fully instrumented, no Node) under TSan;
#  2. the addon built with -fsanitize=thread (build/native-tsan), loaded by node with the TSan
#     runtime preloaded, running native/test/pool-stress.mjs and the native-heavy vitest suites.
# Node itself is not instrumented: reports whose stacks lie wholly in node, V8 or vite's
# rolldown binding are not ours and are counted, not failed on (native/test/tsan.supp drops the
# known ones). Any report with a frame in lmp's code (lmp.node, native/src) fails the script,
# as does any failing test. Verified to catch the old pool's races (shared job counters).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/build/tsan
rm -rf "$OUT"
mkdir -p "$OUT"
TSAN_LIB=$(gcc -print-file-name=libtsan.so)
if [ ! -e "$TSAN_LIB" ]; then
  echo "tsan: libtsan not found (gcc -print-file-name=libtsan.so); install gcc's libtsan" >&2
  exit 2
fi
SUPP=$ROOT/native/test/tsan.supp
export TSAN_OPTIONS="suppressions=$SUPP halt_on_error=0 exitcode=0 log_path=$OUT/report second_deadlock_stack=1"

echo "tsan: [1/3] pool_test (C++, no Node)"
g++ -std=c++17 -O1 -g -fsanitize=thread -Inative/src native/test/pool_test.cc native/src/core/threadpool.cc -o "$OUT/pool_test" -lpthread
timeout 600 "$OUT/pool_test" 400

echo "tsan: [2/3] building the addon with -fsanitize=thread (build/native-tsan)"
npx cmake-js compile --directory native --out build/native-tsan --CDLMP_SANITIZE=thread >"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
ADDON=$ROOT/build/native-tsan/Release/lmp.node

echo "tsan: [3/3] pool stress and native suites with the TSan addon"
LD_PRELOAD=$TSAN_LIB LMP_NATIVE_PATH=$ADDON timeout 600 node native/test/pool-stress.mjs 150 7
LD_PRELOAD=$TSAN_LIB LMP_NATIVE_PATH=$ADDON timeout 1200 node node_modules/vitest/vitest.mjs run \
  native/test/pool.test.ts runtime/native.test.ts runtime/model/kernels.test.ts runtime/model/async.test.ts \
  runtime/model/fused.test.ts runtime/model/prefill.test.ts runtime/attention/attention.test.ts \
  runtime/decode/fastpaths.test.ts runtime/decode/filters.test.ts runtime/model/train.test.ts \
  runtime/model/batch.test.ts runtime/model/gemm-dispatch.test.ts runtime/model/step.test.ts

# Every TSan report (one file per process) split into blocks; ours are those naming lmp code.
node - "$OUT" <<'EOF'
const { readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');
const dir = process.argv[2];
let ours = [], others = 0;
for (const f of readdirSync(dir).filter((f) => f.startsWith('report'))) {
  const blocks = readFileSync(join(dir, f), 'utf8').split(/^==================$/m).filter((b) => /WARNING: ThreadSanitizer/.test(b));
  for (const b of blocks) (/lmp\.node|native\/src\//.test(b) ? ours.push(b) : others++);
}
if (ours.length) {
  console.error(`tsan: ${ours.length} report(s) in lmp's native code:\n` + ours.join('\n==================\n'));
  process.exit(1);
}
console.log(`tsan: clean (no report in lmp's code; ${others} report(s) wholly inside node/V8/rolldown ignored)`);
EOF
