// devd's Lambda runtime for Node.js.
//
// It loads the handler that _HANDLER names ("file.export" or "dir/file.export") from
// LAMBDA_TASK_ROOT once, then fetches events from the Runtime API at AWS_LAMBDA_RUNTIME_API
// and posts each result back, one invocation at a time. Console output passes through
// unchanged, because the daemon tags each line with the request id.
//
// With DEVD_DEFERRED_INIT=1 the process is a spare: before it loads any handler, it waits for
// devd to assign it a function, then takes that function's environment and task root.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import util from "node:util";

process.setSourceMapsEnabled(true);

const API_PREFIX = "/2018-06-01/runtime";
const ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type";

// The order of the AWS Node.js runtime (src/UserFunction.js of
// aws-lambda-nodejs-runtime-interface-client): .js, then .mjs, then .cjs. That runtime also
// loads a file without an extension first, which devd does not.
const MODULE_EXTENSIONS = [".js", ".mjs", ".cjs"];

const env = process.env;
// AWS_LAMBDA_RUNTIME_API is "host:port", or "host:port/secret" for devd's Runtime API, whose
// routes all start with that secret path segment.
const [apiAuthority, ...apiPath] = (env.AWS_LAMBDA_RUNTIME_API ?? "").split("/");
const [apiHost, apiPort] = apiAuthority.split(":");
const apiBase = (apiPath.length > 0 ? `/${apiPath.join("/")}` : "") + API_PREFIX;

// The request id of the invocation that the handler is processing, or null between invocations.
let currentRequestId = null;

class InitError extends Error {
  constructor(errorType, message, stackTrace = []) {
    super(message);
    this.errorType = errorType;
    this.stackTrace = stackTrace;
  }
}

// One keep-alive connection to devd's Runtime API. It replaces node:http, whose client cost
// about a third of this runtime's CPU time per invocation. Requests may be pipelined: the
// responses arrive in the order of the requests, and devd's Runtime API always sends
// Content-Length, so a response ends after that many bytes. The socket keeps the event loop
// alive only while a request waits, as node:http's agent does, so that `beforeExit` still
// signals when a handler's work is done.
class RuntimeApiConnection {
  constructor(host, port) {
    this.host = host;
    this.port = port;
    this.socket = null;
    this.buffer = Buffer.alloc(0);
    this.pending = [];
  }

  // Sends the requests ({ method, path, body, headers }) in one write, and returns one promise
  // per request that resolves to { status, headers, body }.
  send(requests) {
    if (this.socket === null) {
      this.connect();
    }
    const parts = [];
    const replies = requests.map(({ method, path, body, headers = {} }) => {
      const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
      let head = `${method} ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n`;
      for (const [name, value] of Object.entries(headers)) {
        head += `${name}: ${value}\r\n`;
      }
      head += `Content-Length: ${payload.length}\r\n\r\n`;
      parts.push(Buffer.from(head, "latin1"), payload);
      return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
    });
    this.socket.ref();
    this.socket.write(Buffer.concat(parts));
    return replies;
  }

  connect() {
    const socket = net.connect({ host: this.host, port: this.port });
    socket.setNoDelay(true);
    socket.on("data", (chunk) => this.receive(chunk));
    socket.on("error", (error) => this.fail(error));
    socket.on("close", () => {
      if (this.socket === socket) {
        this.socket = null;
        this.buffer = Buffer.alloc(0);
      }
      this.fail(new Error("the Runtime API closed the connection"));
    });
    this.socket = socket;
  }

  receive(chunk) {
    this.buffer = this.buffer.length > 0 ? Buffer.concat([this.buffer, chunk]) : chunk;
    while (this.pending.length > 0 && this.socket !== null) {
      const response = this.takeResponse();
      if (response === null) {
        return;
      }
      const { resolve } = this.pending.shift();
      if (this.pending.length === 0) {
        this.socket.unref();
      }
      if ((response.headers.connection ?? "").toLowerCase() === "close") {
        this.socket.destroy();
        this.socket = null;
      }
      resolve(response);
    }
  }

  // Removes one complete response from the buffer and returns it, or null while it is incomplete.
  takeResponse() {
    const headEnd = this.buffer.indexOf("\r\n\r\n");
    if (headEnd < 0) {
      return null;
    }
    const lines = this.buffer.toString("latin1", 0, headEnd).split("\r\n");
    const headers = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const bodyStart = headEnd + 4;
    const bodyEnd = bodyStart + Number(headers["content-length"] ?? 0);
    if (this.buffer.length < bodyEnd) {
      return null;
    }

    const body = Buffer.from(this.buffer.subarray(bodyStart, bodyEnd));
    this.buffer = this.buffer.subarray(bodyEnd);
    return { status: Number(lines[0].split(" ")[1]), headers, body };
  }

  fail(error) {
    const pending = this.pending;
    this.pending = [];
    for (const { reject } of pending) {
      reject(error);
    }
  }
}

const connection = new RuntimeApiConnection(apiHost, Number(apiPort));

// Sends one request to the Runtime API and resolves to { status, headers, body }, with
// lower-case header names.
function callRuntimeApi(method, route, body = undefined, headers = {}) {
  return connection.send([{ method, path: apiBase + route, body, headers }])[0];
}

// Converts anything a handler throws or rejects with into Lambda's error document.
function errorDocument(error) {
  if (error instanceof InitError) {
    return { errorType: error.errorType, errorMessage: error.message, stackTrace: error.stackTrace };
  }
  if (error instanceof Error || (error && typeof error.name === "string" && typeof error.message === "string")) {
    const stack = typeof error.stack === "string" ? error.stack.split("\n") : [];
    const userStack = stack.filter((line) => !line.includes(import.meta.url));
    return { errorType: error.name, errorMessage: error.message, stackTrace: userStack };
  }
  const message = typeof error === "string" ? error : util.inspect(error);
  return { errorType: typeof error, errorMessage: message, stackTrace: [] };
}

// Resolves when everything written to stdout and stderr so far has reached the pipes. Node
// writes to a pipe asynchronously, and the daemon tags output with the request id only until
// the result arrives, so every result is posted after this.
function flushOutput() {
  const pending = [process.stdout, process.stderr]
    .filter((stream) => stream.writableLength > 0)
    .map((stream) => new Promise((resolve) => stream.write("", () => resolve())));
  return Promise.all(pending);
}

async function postError(route, error) {
  await flushOutput();
  const document = errorDocument(error);
  const headers = { "Content-Type": "application/json", [ERROR_TYPE_HEADER]: document.errorType };
  await callRuntimeApi("POST", route, JSON.stringify(document), headers);
}

// Splits "dir/file.export.nested" into the module path "dir/file" and ["export", "nested"].
function parseHandlerName(handler) {
  if (handler.includes("..")) {
    throw new InitError(
      "Runtime.MalformedHandlerName",
      `Handler '${handler}' is invalid: it must not contain "..", because the module must be inside the task root.`,
    );
  }
  const slash = handler.lastIndexOf("/");
  const name = handler.slice(slash + 1);
  const dot = name.indexOf(".");
  if (dot < 1 || dot === name.length - 1) {
    throw new InitError(
      "Runtime.MalformedHandlerName",
      `Handler '${handler}' is invalid: expected "file.export" or "dir/file.export".`,
    );
  }
  return { modulePath: handler.slice(0, slash + 1) + name.slice(0, dot), exportPath: name.slice(dot + 1).split(".") };
}

function resolveModuleFile(taskRoot, modulePath) {
  const base = path.resolve(taskRoot, modulePath);
  for (const extension of MODULE_EXTENSIONS) {
    if (fs.existsSync(base + extension)) {
      return base + extension;
    }
  }
  throw new InitError(
    "Runtime.ImportModuleError",
    `Error: Cannot find module '${modulePath}': no ${modulePath}.js, .mjs or .cjs file in ${taskRoot}`,
  );
}

// Returns the location lines ("file:line", the source line, the caret) that `node --check`
// prints for a syntax error, because an ES module's SyntaxError does not carry its location.
// NOTE: this finds errors in the handler's own file only, not in the modules it imports.
function syntaxErrorLocation(file) {
  const check = spawnSync(process.execPath, ["--check", file], { encoding: "utf8" });
  if (check.status === 0 || typeof check.stderr !== "string") {
    return [];
  }
  const lines = check.stderr.split("\n");
  const end = lines.findIndex((line) => line.startsWith("SyntaxError"));
  return lines.slice(0, end < 0 ? 0 : end).filter((line) => line.trim() !== "");
}

function importFailure(error, modulePath, file) {
  const stack = typeof error?.stack === "string" ? error.stack.split("\n") : [];

  if (error instanceof SyntaxError) {
    const location = error.stack?.includes(file) ? [] : syntaxErrorLocation(file);
    const where = location.length > 0 ? ` (${location[0]})` : "";
    return new InitError("Runtime.UserCodeSyntaxError", `${error.name}: ${error.message}${where}`, [
      ...location,
      ...stack,
    ]);
  }
  if (error?.code === "ERR_MODULE_NOT_FOUND" || error?.code === "MODULE_NOT_FOUND") {
    return new InitError("Runtime.ImportModuleError", `Error: ${error.message} (loading '${modulePath}')`, stack);
  }
  return error;
}

function findExport(moduleNamespace, exportPath) {
  const [first, ...rest] = exportPath;
  // A CommonJS module imported as ESM exposes module.exports as `default`, and its named
  // exports only when Node's static analysis detects them.
  let value = moduleNamespace[first] ?? moduleNamespace.default?.[first];
  for (const key of rest) {
    value = value?.[key];
  }
  return value;
}

async function loadHandler() {
  const handlerName = env._HANDLER ?? "";
  const taskRoot = env.LAMBDA_TASK_ROOT ?? process.cwd();
  const { modulePath, exportPath } = parseHandlerName(handlerName);
  const file = resolveModuleFile(taskRoot, modulePath);

  let moduleNamespace;
  try {
    moduleNamespace = await import(pathToFileURL(file).href);
  } catch (error) {
    throw importFailure(error, modulePath, file);
  }

  const handler = findExport(moduleNamespace, exportPath);
  if (typeof handler !== "function") {
    throw new InitError(
      "Runtime.HandlerNotFound",
      `${path.basename(file)} does not export a function named '${exportPath.join(".")}' (handler '${handlerName}').`,
    );
  }
  return handler;
}

function makeContext(headers, callback) {
  const deadlineMs = Number(headers["lambda-runtime-deadline-ms"]);
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: undefined,
    clientContext: undefined,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
    done: callback,
    succeed: (result) => callback(null, result),
    fail: (error) => callback(error ?? new Error("context.fail() was called without an error")),
  };
}

// Runs the handler and settles with its result: the promise it returns, or the callback
// (or context.done/succeed/fail) for callback-style handlers, whichever comes first. A
// synchronous throw propagates to the caller. As in Lambda, a callback's result is sent once
// the event loop is empty (Node's `beforeExit`), unless the handler set
// context.callbackWaitsForEmptyEventLoop to false. A returned promise's result is sent at once.
function runHandler(handler, event, headers) {
  let settled = false;
  let resolveResult;
  let rejectResult;
  const result = new Promise((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });
  const finish = (error, value) => {
    if (error !== null && error !== undefined) {
      rejectResult(error);
    } else {
      resolveResult(value);
    }
  };
  const callback = (error, value) => {
    if (settled) {
      return;
    }
    settled = true;
    if (context.callbackWaitsForEmptyEventLoop) {
      process.once("beforeExit", () => finish(error, value));
    } else {
      finish(error, value);
    }
  };
  const context = makeContext(headers, callback);

  const returned = handler(event, context, callback);

  if (returned && typeof returned.then === "function") {
    returned.then(
      (value) => {
        if (!settled) {
          settled = true;
          finish(null, value);
        }
      },
      (error) => {
        if (!settled) {
          settled = true;
          finish(error ?? new Error("The handler's promise was rejected without a reason"));
        }
      },
    );
  } else if (handler.length < 3 && !settled) {
    // Lambda ignores the return value of a handler that is neither async nor callback-style,
    // and responds null once the event loop is empty.
    if (returned !== undefined) {
      console.error(
        "The handler returned a value without a promise or a callback, so Lambda responds null. Make it async or call the callback.",
      );
    }
    callback(null, null);
  }
  return result;
}

// Runs one invocation and returns the next one. A result is posted together with the poll for
// the next event, which saves devd and this process a round trip per invocation.
async function invokeOnce(handler, next) {
  const requestId = next.headers["lambda-runtime-aws-request-id"];
  currentRequestId = requestId;
  env._X_AMZN_TRACE_ID = next.headers["lambda-runtime-trace-id"] ?? "";

  let body;
  try {
    const event = JSON.parse(next.body.toString("utf8") || "null");
    const result = await runHandler(handler, event, next.headers);
    body = JSON.stringify(result === undefined ? null : result);
  } catch (error) {
    currentRequestId = null;
    await postError(`/invocation/${requestId}/error`, error);
    return callRuntimeApi("GET", "/invocation/next");
  }

  currentRequestId = null;
  await flushOutput();
  const [posted, following] = connection.send([
    {
      method: "POST",
      path: `${apiBase}/invocation/${requestId}/response`,
      body,
      headers: { "Content-Type": "application/json" },
    },
    { method: "GET", path: `${apiBase}/invocation/next` },
  ]);
  const response = await posted;
  if (response.status >= 400) {
    console.error(`The Runtime API rejected the response of request ${requestId}: ${response.body.toString("utf8")}`);
  }
  return following;
}

process.on("unhandledRejection", (reason) => {
  console.error("Unhandled promise rejection:", reason);
});

process.on("uncaughtException", async (error) => {
  // An uncaught exception leaves the handler's state unknown, so the runtime reports it to the
  // invocation in flight and exits. The daemon starts a fresh worker for the next request.
  const requestId = currentRequestId;
  currentRequestId = null;
  if (requestId === null) {
    console.error("Uncaught exception:", error);
  } else {
    await postError(`/invocation/${requestId}/error`, error).catch((postFailure) => {
      console.error("Uncaught exception:", error, "\nReporting it to the Runtime API failed:", postFailure);
    });
  }
  process.exit(1);
});

// Waits for the assignment of a spare, then makes process.env and the working directory what
// they are in a worker started with the function's environment in its task root.
async function receiveAssignment() {
  const reply = await callRuntimeApi("GET", "/devd/assignment");
  if (reply.status !== 200) {
    throw new Error(`GET /devd/assignment returned HTTP ${reply.status}: ${reply.body.toString("utf8")}`);
  }
  const assignment = JSON.parse(reply.body.toString("utf8"));

  // Node itself changed the variables that differ from the spare's start environment. It reads
  // the same startup variables in a worker started with the function's environment, so it
  // would have changed them there too, and they stay.
  const spareEnv = assignment.spare_env;
  const setByRuntime = Object.entries(env).filter(([name, value]) => spareEnv[name] !== value);
  const removedByRuntime = Object.keys(spareEnv).filter((name) => !Object.hasOwn(env, name));

  for (const name of Object.keys(env)) {
    delete env[name];
  }
  Object.assign(env, assignment.env, Object.fromEntries(setByRuntime));
  for (const name of removedByRuntime) {
    delete env[name];
  }
  process.chdir(assignment.task_root);
}

async function main() {
  if (env.DEVD_DEFERRED_INIT === "1") {
    await receiveAssignment();
  }

  let handler;
  try {
    handler = await loadHandler();
  } catch (error) {
    await postError("/init/error", error);
    process.exit(1);
  }

  let next = await callRuntimeApi("GET", "/invocation/next");
  for (;;) {
    if (next.status !== 200) {
      throw new Error(`GET /invocation/next returned HTTP ${next.status}: ${next.body.toString("utf8")}`);
    }
    next = await invokeOnce(handler, next);
  }
}

main().catch((error) => {
  console.error(`The Lambda runtime failed to talk to the Runtime API at ${env.AWS_LAMBDA_RUNTIME_API}:`, error);
  process.exit(1);
});
