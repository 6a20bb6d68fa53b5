// Validates an OpenAPI document (a file, or stdin with "-") against the OpenAPI 3.1 schema and
// resolves every $ref: exit 0 when valid, 1 with the problems otherwise.
import { readFileSync } from "node:fs";
import SwaggerParser from "@apidevtools/swagger-parser";

const source = process.argv[2] ?? "-";
const text = readFileSync(source === "-" ? 0 : source, "utf8");
try {
  const api = await SwaggerParser.validate(JSON.parse(text));
  const operations = Object.values(api.paths).reduce((n, p) => n + Object.keys(p).length, 0);
  console.log(`valid OpenAPI ${api.openapi}: ${Object.keys(api.paths).length} paths, ${operations} operations`);
} catch (err) {
  console.error(`invalid OpenAPI document: ${err.message}`);
  if (err.details) console.error(JSON.stringify(err.details, null, 2).slice(0, 20000));
  process.exit(1);
}
