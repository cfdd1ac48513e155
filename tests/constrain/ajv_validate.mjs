// Validates constrained outputs with ajv (draft 2020-12) and ajv-formats:
// node ajv_validate.mjs NODE_MODULES_DIR SAMPLES.jsonl. Each line holds a
// schema and the texts generated under it; every text must parse as JSON
// and validate. Exit 1 with the failures listed otherwise.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(process.argv[2] + "/");
const Ajv2020 = require("ajv/dist/2020").default;
const addFormats = require("ajv-formats");

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
let checked = 0;
const failures = [];
for (const line of readFileSync(process.argv[3], "utf8").split("\n")) {
  if (!line.trim()) continue;
  const { schema, outputs } = JSON.parse(line);
  const validate = ajv.compile(schema);
  for (const text of outputs) {
    ++checked;
    let value;
    try {
      value = JSON.parse(text);
    } catch (e) {
      failures.push({ schema, text, error: String(e) });
      continue;
    }
    if (!validate(value)) failures.push({ schema, text, error: ajv.errorsText(validate.errors) });
  }
}
for (const f of failures) console.log(JSON.stringify(f));
console.log(`${checked} outputs checked, ${failures.length} invalid`);
process.exit(failures.length === 0 && checked > 0 ? 0 : 1);
