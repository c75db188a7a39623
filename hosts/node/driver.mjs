// The conformance kit's driver (conformance/README.md) over the Node host: one JSON request
// a line on stdin, one JSON response a line on stdout, in order; diagnostics on stderr.
//
//   node hosts/node/driver.mjs [--transpiled DIR] [--wit FILE] [--log-level LEVEL]
//
// DIR holds jco's transpilation of the component (default: out/ beside this file); FILE is
// the contract (default: wit/privacy-guard.wit of this repository), read for which exports
// return a `result` and how many parameters each takes; LEVEL the least level of the
// plugin's log lines kept on stderr (trace, debug, info (default), warn, error).

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Host, HostFailure, LOG_LEVELS, PACKAGE } from './host.mjs';
import { camelCase, fromJco, toJco } from './values.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values: options } = parseArgs({
  options: {
    transpiled: { type: 'string', default: join(here, 'out') },
    wit: { type: 'string', default: join(here, '..', '..', 'wit', 'privacy-guard.wit') },
    'log-level': { type: 'string', default: 'info' },
  },
});

/** A request that is wrong: answered {"error": text}, nothing changed. */
class RequestError extends Error {}

/**
 * The exported functions of the contract, `interface.function` → {parameters, returnsResult},
 * read from the WIT: jco's JavaScript does not say whether a function's `err` is thrown.
 */
function exportedFunctions(wit) {
  if (!wit.includes(`package ${PACKAGE}@`)) throw new Error(`${options.wit} is not a version of ${PACKAGE}`);
  const world = wit.match(/^world [a-z-]+ \{([^}]*)\}/m)[1];
  const exported = [...world.matchAll(/^\s*export ([a-z-]+);/gm)].map((found) => found[1]);
  const functions = new Map();
  for (const [, name, body] of wit.matchAll(/^interface ([a-z-]+) \{\n([\s\S]*?)^\}/gm)) {
    if (!exported.includes(name)) continue;
    for (const [, fn, parameters, returns] of body.matchAll(/^\s*([a-z][a-z0-9-]*): func\((.*)\)(?:\s*->\s*(.*))?;$/gm)) {
      functions.set(`${name}.${fn}`, {
        parameters: [...parameters.matchAll(/(?:^|,)\s*([a-z][a-z0-9-]*)\s*:/g)].map((found) => found[1]),
        returnsResult: (returns ?? '').startsWith('result'),
      });
    }
  }
  return functions;
}

const functions = exportedFunctions(readFileSync(options.wit, 'utf8'));
if (!LOG_LEVELS.includes(options['log-level'])) throw new Error(`--log-level is one of ${LOG_LEVELS.join(', ')}`);
const host = await Host.load(options.transpiled);
host.logLevel = options['log-level'];
await host.reset(0);
// The contract's exports must be the component's, each with as many parameters.
for (const [name, { parameters }] of functions) {
  const [interfaceName, functionName] = name.split('.').map(camelCase);
  const exported = host.exports[interfaceName]?.[functionName];
  if (typeof exported !== 'function' || exported.length !== parameters.length) {
    throw new Error(`the component does not export \`${name}\` as ${options.wit} declares it`);
  }
}
let started = false;

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function instant(request) {
  const text = request.now;
  if (typeof text !== 'string') throw new RequestError('the request needs `now` as a string');
  const millis = Date.parse(text);
  if (!RFC3339.test(text) || Number.isNaN(millis)) throw new RequestError(`\`${text}\` is not an RFC 3339 instant`);
  return millis;
}

async function call(request) {
  const name = request.function;
  if (typeof name !== 'string') throw new RequestError('the request needs `function` as a string');
  const fn = functions.get(name);
  if (!fn) throw new RequestError(`the world exports no function \`${name}\``);
  const args = request.args ?? [];
  if (!Array.isArray(args)) throw new RequestError('`args` must be an array');
  if (args.length !== fn.parameters.length) {
    throw new RequestError(`\`${name}\` takes ${fn.parameters.length} arguments (${fn.parameters.join(', ')}), ${args.length} given`);
  }
  const [interfaceName, functionName] = name.split('.').map(camelCase);
  let outcome;
  try {
    outcome = await host.call(interfaceName, functionName, args.map(toJco));
  } catch (thrown) {
    // A trap (V8 reports a guest's stack overflow as a RangeError), or a failure inside an
    // import: the unit of work was dropped. Anything else is what jco throws when an
    // argument does not fit its type.
    if (thrown instanceof WebAssembly.RuntimeError || thrown instanceof RangeError || thrown instanceof HostFailure) {
      return { fault: `the plugin faulted: ${String(thrown.message).split('\n')[0]}` };
    }
    throw new RequestError(`the arguments do not fit \`${name}\`: ${thrown?.message ?? thrown}`);
  }
  if ('err' in outcome) return { ok: { tag: 'err', val: fromJco(outcome.err) } };
  if (!fn.returnsResult) return { ok: fromJco(outcome.value) };
  return { ok: outcome.value === undefined ? { tag: 'ok' } : { tag: 'ok', val: fromJco(outcome.value) } };
}

/** A `person-record` as the kit encodes it, checked as strictly as the reference driver. */
function recordOf(json) {
  const wrong = (problem) => new RequestError(`\`record\` is not a person-record: ${problem}`);
  const known = ['ref', 'fields', 'status', 'locked', 'modified-at'];
  if (json === null || typeof json !== 'object') throw wrong('not an object');
  for (const key of Object.keys(json)) if (!known.includes(key)) throw wrong(`unknown field \`${key}\``);
  const { ref, fields, status, locked } = json;
  const modifiedAt = json['modified-at'];
  if (typeof ref?.module !== 'string' || typeof ref?.id !== 'string') throw wrong('`ref` needs `module` and `id`');
  if (!Array.isArray(fields) || !fields.every((f) => typeof f?.name === 'string' && typeof f?.value === 'string')) {
    throw wrong('`fields` must be a list of {name, value}');
  }
  if (typeof status !== 'string' || typeof locked !== 'boolean' || !Number.isSafeInteger(modifiedAt)) {
    throw wrong('`status`, `locked` and `modified-at` are a string, a boolean and an integer');
  }
  return { module: ref.module, id: ref.id, fields: fields.map((f) => [f.name, f.value]), status, locked, modifiedAt };
}

function recordJson(record) {
  return {
    ref: { module: record.module, id: record.id },
    fields: record.fields.map(([name, value]) => ({ name, value })),
    status: record.status,
    locked: record.locked,
    'modified-at': record.modifiedAt,
  };
}

async function answer(request) {
  const op = request?.op;
  if (typeof op !== 'string') throw new RequestError('the request needs `op` as a string');
  if (op === 'reset') {
    await host.reset(instant(request));
    started = true;
    return { ok: null };
  }
  if (!started) throw new RequestError(`\`${op}\` before the first \`reset\``);
  switch (op) {
    case 'clock':
      host.now = instant(request);
      return { ok: null };
    case 'crm-put':
      if (!('record' in request)) throw new RequestError('`crm-put` needs a `record`');
      host.putRecord(recordOf(request.record));
      return { ok: null };
    case 'call':
      return call(request);
    case 'events': {
      const after = request.after ?? 0;
      if (!Number.isSafeInteger(after) || after < 0) throw new RequestError('`after` must be a sequence number');
      return {
        ok: host.eventsAfter(after).map((event) => ({
          sequence: event.sequence,
          'stream-id': event.streamId,
          payload: event.payload,
          'recorded-at': event.recordedAt,
        })),
      };
    }
    case 'mails':
      return { ok: host.takeMail().map(fromJco) };
    case 'record': {
      if (typeof request.module !== 'string' || typeof request.id !== 'string') {
        throw new RequestError('the request needs `module` and `id` as strings');
      }
      const record = host.record(request.module, request.id);
      return { ok: record === null ? null : recordJson(record) };
    }
    default:
      throw new RequestError(`unknown op \`${op}\` (known: reset, clock, crm-put, call, events, mails, record)`);
  }
}

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (line.trim() === '') continue;
  let response;
  try {
    response = await answer(JSON.parse(line));
  } catch (thrown) {
    if (thrown instanceof SyntaxError) response = { error: `the request is not JSON: ${thrown.message}` };
    else if (thrown instanceof RequestError) response = { error: thrown.message };
    else throw thrown;
  }
  process.stdout.write(`${JSON.stringify(response)}\n`);
}
