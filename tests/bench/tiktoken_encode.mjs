// Measures npm's tiktoken (the Rust core compiled to WASM) on corpus files:
// node tiktoken_encode.mjs NODE_MODULES_DIR FILE... -> one JSON line per file
// with the best time of 3 runs, the token count and an FNV-1a hash of the ids.
// Files are decoded as the WHATWG UTF-8 decoder does (BOM dropped, invalid
// subparts -> U+FFFD), the rule ossrt's encode_bytes follows.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename } from "node:path";

const require = createRequire(process.argv[2] + "/");
const { get_encoding } = require("tiktoken");
const enc = get_encoding("o200k_base");

for (const file of process.argv.slice(3)) {
  const text = new TextDecoder("utf-8").decode(readFileSync(file));
  let best = Infinity;
  let ids;
  try {
    for (let run = 0; run < 3; ++run) {
      const start = process.hrtime.bigint();
      ids = enc.encode_ordinary(text);
      best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
    }
  } catch (e) {
    // The WASM core panics on some inputs; report it and go on with the next file.
    console.log(JSON.stringify({ name: basename(file), error: String(e).split("\n")[0] }));
    continue;
  }
  let hash = 0xcbf29ce484222325n;
  for (const id of ids) hash = ((hash ^ BigInt(id)) * 0x100000001b3n) & 0xffffffffffffffffn;
  console.log(JSON.stringify({ name: basename(file), seconds: best, tokens: ids.length, hash: hash.toString(16) }));
}
// No enc.free(): after a WASM panic the encoder is poisoned and free() throws; the process exits anyway.
