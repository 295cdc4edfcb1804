// Types the console's API client from the mall's own OpenAPI document, so a renamed or removed field
// fails `npm run build` (vue-tsc) instead of a merchant's click. The document is written by the repo's
// Python app (`python -m infra openapi`), not fetched from a running stack: a build needs no server.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const project = resolve(here, "..");
const repo = resolve(project, "../..");
const venvPython = join(repo, ".venv/bin/python");
const python = process.env.MALL_PYTHON || venvPython;
if (!existsSync(python)) {
  console.error(`${python} is missing: the console's types come from the mall's Python app; run \`make run\` or \`make test\` `
    + "(they create .venv), or set MALL_PYTHON to a Python with requirements-dev.txt installed");
  process.exit(1);
}
const documentPath = join(project, "build/openapi.json");
const typesPath = join(project, "src/api/schema.d.ts");

function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, stdio: "inherit" });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    console.error(`${command} ${args.join(" ")} exited with ${result.status}`);
    process.exit(result.status ?? 1);
  }
}

mkdirSync(dirname(documentPath), { recursive: true });
run(python, ["-m", "infra", "openapi", "--output", documentPath], repo);
// Request fields with a default are optional to send; the generator would otherwise make them required.
run(join(project, "node_modules/.bin/openapi-typescript"), [documentPath, "--output", typesPath, "--default-non-nullable=false"], project);
