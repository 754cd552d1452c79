// A long-running esbuild process for devd: one esbuild context per function, rebuilt on request.
//
// Usage: node esbuild_service.mjs PROJECT_ROOT [OTHER_DIR ...]
//
// esbuild is loaded from the first directory, in argument order, whose Node module resolution
// finds it. The first line written to stdout is {"ready": true, "esbuild": PATH, "version": V}
// or {"ready": false, "error": MESSAGE}, and in the second case the process exits with code 2.
//
// Then every stdin line is one JSON request and every stdout line one JSON response:
//   {"id": 1, "op": "build", "key": K, "options": {...}, "writeDir": DIR}
//     -> {"id": 1, "ok": true, "inputs": [...], "outputs": [...], "errors": [], "warnings": [...]}
//   {"id": 2, "op": "dispose", "key": K} -> {"id": 2, "ok": true}
// A build writes nothing to the context's outdir: its output files go to the same relative
// paths under writeDir. Inputs and outputs are absolute paths. A failed build returns
// ok: false, the formatted errors, and as inputs those of the last successful build of the
// same key plus the files that the errors point at. Requests for one key run in order.
// The process stops when stdin closes or on SIGTERM.

import { createRequire } from "node:module";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import readline from "node:readline";

const REQUIRED_API = "context";

function loadEsbuild(searchDirs) {
  for (const dir of searchDirs) {
    const require = createRequire(path.join(path.resolve(dir), "package.json"));
    let resolved;
    try {
      resolved = require.resolve("esbuild");
    } catch (error) {
      if (error.code === "MODULE_NOT_FOUND") continue;
      throw error;
    }
    return { esbuild: require(resolved), resolved };
  }
  return null;
}

function notFoundMessage(searchDirs) {
  const places = searchDirs.map((dir) => path.join(path.resolve(dir), "node_modules"));
  const root = path.resolve(searchDirs[0] ?? ".");
  const install = `run \`npm install --save-dev esbuild\` in ${root}`;
  return `esbuild not found in ${places.join(" or ")}: ${install}`;
}

function send(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

// esbuild reports 0-based columns counted in UTF-8 bytes. Messages print 1-based columns
// counted in UTF-16 code units (JavaScript string length), as compilers print 1-based ones.
function columnText(location) {
  return Buffer.from(location.lineText ?? "").subarray(0, location.column).toString();
}

function where(location) {
  const column = location.lineText ? columnText(location).length : location.column;
  return `${location.file}:${location.line}:${column + 1}`;
}

function formatMessage(message, kind) {
  const location = message.location;
  const lines = [];
  if (location) {
    lines.push(`${where(location)}: ${kind}: ${message.text}`);
    if (location.lineText) {
      const gutter = String(location.line);
      const padding = columnText(location).replace(/[^\t]/g, " ");
      lines.push(`  ${gutter} | ${location.lineText}`);
      lines.push(`  ${" ".repeat(gutter.length)} | ${padding}^`);
    }
  } else {
    lines.push(`${kind}: ${message.text}`);
  }
  for (const note of message.notes ?? []) {
    const prefix = note.location ? `${where(note.location)}: ` : "";
    lines.push(`  note: ${prefix}${note.text}`);
  }
  return lines.join("\n");
}

// Metafile keys are relative to absWorkingDir. Keys with a namespace prefix ("ns:...")
// name virtual modules, not files.
function absoluteInputs(metafile, workingDir) {
  return Object.keys(metafile.inputs)
    .filter((key) => !/^[^/]*:/.test(key))
    .map((key) => path.resolve(workingDir, key));
}

function errorFiles(messages, workingDir) {
  return messages
    .filter((message) => message.location?.file)
    .map((message) => path.resolve(workingDir, message.location.file));
}

async function writeOutputs(outputFiles, outdir, writeDir) {
  const written = [];
  for (const file of outputFiles) {
    const relative = path.relative(outdir, file.path);
    if (relative === ".." || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) {
      throw new Error(`esbuild output ${file.path} is outside the outdir ${outdir}`);
    }
    const target = path.join(writeDir, relative);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, file.contents);
    written.push(target);
  }
  return written;
}

class Service {
  constructor(esbuild) {
    this.esbuild = esbuild;
    this.contexts = new Map(); // key -> { signature, ctx, inputs }
    this.queues = new Map(); // key -> promise of the last queued request
  }

  // Runs task after every earlier task of the same key has settled.
  enqueue(key, task) {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const run = previous.then(task, task);
    this.queues.set(key, run);
    const forget = () => {
      if (this.queues.get(key) === run) this.queues.delete(key);
    };
    run.then(forget, forget);
    return run;
  }

  async context(key, options) {
    const signature = JSON.stringify(options);
    const current = this.contexts.get(key);
    if (current && current.signature === signature) return current;

    if (current) {
      this.contexts.delete(key);
      await current.ctx.dispose();
    }
    const ctx = await this.esbuild.context({ ...options, write: false });
    const created = { signature, ctx, inputs: [] };
    this.contexts.set(key, created);
    return created;
  }

  async build(request) {
    const { key, options, writeDir } = request;
    const workingDir = options.absWorkingDir ?? process.cwd();
    let state = this.contexts.get(key);
    let result;
    try {
      state = await this.context(key, options);
      result = await state.ctx.rebuild();
    } catch (error) {
      if (!Array.isArray(error?.errors)) throw error;
      const inputs = new Set([...(state?.inputs ?? []), ...errorFiles(error.errors, workingDir)]);
      return {
        ok: false,
        inputs: [...inputs],
        outputs: [],
        errors: error.errors.map((message) => formatMessage(message, "error")),
        warnings: (error.warnings ?? []).map((message) => formatMessage(message, "warning")),
      };
    }

    state.inputs = absoluteInputs(result.metafile, workingDir);
    const outputs = await writeOutputs(result.outputFiles, path.resolve(options.outdir), writeDir);
    return {
      ok: true,
      inputs: state.inputs,
      outputs,
      errors: [],
      warnings: result.warnings.map((message) => formatMessage(message, "warning")),
    };
  }

  async dispose(request) {
    const state = this.contexts.get(request.key);
    this.contexts.delete(request.key);
    if (state) await state.ctx.dispose();
    return { ok: true };
  }

  async handle(line) {
    let request;
    try {
      request = JSON.parse(line);
    } catch (error) {
      send({ id: null, ok: false, errors: [`invalid request line: ${error.message}`] });
      return;
    }

    let response;
    try {
      if (request.op === "build") {
        response = await this.enqueue(request.key, () => this.build(request));
      } else if (request.op === "dispose") {
        response = await this.enqueue(request.key, () => this.dispose(request));
      } else {
        response = { ok: false, errors: [`unknown op ${JSON.stringify(request.op)}`] };
      }
    } catch (error) {
      response = { ok: false, inputs: [], outputs: [], errors: [String(error?.stack ?? error)] };
    }
    send({ id: request.id ?? null, ...response });
  }

  async shutdown() {
    const contexts = [...this.contexts.values()];
    this.contexts.clear();
    await Promise.allSettled(contexts.map((state) => state.ctx.dispose()));
    if (typeof this.esbuild.stop === "function") await this.esbuild.stop();
  }
}

function main() {
  const searchDirs = process.argv.slice(2);
  const loaded = loadEsbuild(searchDirs);
  if (loaded === null) {
    send({ ready: false, error: notFoundMessage(searchDirs) });
    process.exitCode = 2;
    return;
  }

  const { esbuild, resolved } = loaded;
  if (typeof esbuild[REQUIRED_API] !== "function") {
    const root = path.resolve(searchDirs[0]);
    send({
      ready: false,
      error:
        `esbuild ${esbuild.version} at ${resolved} has no ${REQUIRED_API}() API and is too old: ` +
        "devd needs esbuild 0.17 or later: " +
        `run \`npm install --save-dev esbuild@latest\` in ${root}`,
    });
    process.exitCode = 2;
    return;
  }

  const service = new Service(esbuild);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    service.shutdown().finally(() => process.exit(0));
  };

  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on("line", (line) => {
    if (line.trim()) service.handle(line);
  });
  lines.on("close", stop);
  process.on("SIGTERM", stop);

  send({ ready: true, esbuild: resolved, version: esbuild.version });
}

main();
