// A second host for the Privacy Guard component: the contract's six imports (crm, store,
// mail, clock, keys, log) in JavaScript over in-memory state, and every export call as one
// unit of work (wit/privacy-guard.wit, "Units of work"): what a call writes is held apart,
// its reads see it, and it is applied when the call returns (a `result::err` included) and
// dropped when it throws or traps. The component is jco's transpilation of the file the
// reference host embeds, byte for byte (README.md says how that is checked).

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
// WASI 0.2 for Rust's standard library in the guest. The shim's browser build is its
// pure-JavaScript one: `createCli` makes isolated stdio and an empty environment, where
// the Node build would hand the guest this process's environment and its stdout (the
// protocol's channel). `random` is the Node build's (node:crypto).
import { createCli } from './node_modules/@bytecodealliance/preview2-shim/dist/browser/cli.js';
import { error, poll, streams } from './node_modules/@bytecodealliance/preview2-shim/dist/browser/io.js';
import { insecureSeed } from '@bytecodealliance/preview2-shim/random';

/** The contract's package: jco imports its interfaces under `PACKAGE/interface`. */
export const PACKAGE = 'privacy-guard:consent';

/** The largest page `crm.list-records` returns, and the most `keys.random-bytes` gives. */
const MAX_PAGE = 1000;
const MAX_RANDOM_BYTES = 1024;

/** What one call may make the host hold, as the reference host's default call budget. */
const BUDGET = { storeBytes: 2 ** 30, events: 4_000_000, mails: 1_000_000, mailBytes: 2 ** 30, logBytes: 16 * 2 ** 20 };

/** The log's levels, lowest first; lines below the host's level are dropped. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

/** The host failed or refused to go on (budget, random-bytes): the call traps. */
export class HostFailure extends Error {}

/** Trims and lower-cases an address: the one form people are matched by. */
export const normaliseEmail = (address) => address.trim().toLowerCase();

/** Byte order of the UTF-8 texts, as the reference host's database sorts keys and ids. */
const byText = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const recordKey = (module, id) => `${module}\u0000${id}`;

/** Everything one call wrote; reads consult it before the committed state. */
class UnitOfWork {
  kv = new Map(); // key → Uint8Array, or null for a deletion
  events = []; // {streamId, payload}
  records = new Map(); // recordKey → record in its complete new form
  mails = []; // mail.message as jco gives it, ids unique within the unit
  removedLayoutFields = new Set(); // recordKey(module, field)
  forgotten = new Set(); // normalised addresses
  spent = { storeBytes: 0, events: 0, mails: 0, mailBytes: 0, logBytes: 0 };

  spend(what, amount) {
    this.spent[what] += amount;
    if (this.spent[what] > BUDGET[what]) {
      throw new HostFailure(`the call spent more than its budget of ${BUDGET[what]} ${what}`);
    }
  }
}

/** The committed state: what a CRM, a database and an outbox would hold. */
class State {
  kv = new Map();
  events = []; // {sequence, streamId, payload, recordedAt}
  records = new Map(); // recordKey → {module, id, fields: [[name, value]], status, locked, modifiedAt}
  outbox = new Map(); // message id → {mail (null once forgotten), addresses, queuedAt, forgottenAt}
  removedLayoutFields = new Set();
}

export class Host {
  /** Loads jco's transpilation in `dir` (its component.js and core modules). */
  static async load(dir) {
    const component = await import(pathToFileURL(join(dir, 'component.js')).href);
    const modules = new Map();
    return new Host(component.instantiate, async (name) => {
      if (!modules.has(name)) modules.set(name, await WebAssembly.compile(await readFile(join(dir, name))));
      return modules.get(name);
    });
  }

  constructor(instantiate, coreModule) {
    this.instantiate = instantiate;
    this.coreModule = coreModule;
    this.exports = null;
    this.logLevel = 'info';
  }

  /** Fresh, empty state at `now` (milliseconds), a new link key and a new instance. */
  async reset(now) {
    this.state = new State();
    this.now = now;
    this.linkKey = randomBytes(32);
    this.work = null;
    this.newMail = [];
    this.exports = await this.instantiate(this.coreModule, this.imports());
  }

  /**
   * Calls the export `interface.function` with jco values, as one unit of work. Returns
   * {value} or {err} (a `result::err`, committed like any return); throws what the call
   * threw (its unit dropped). An instance that threw anything else is replaced, as the
   * reference host drops an instance that trapped.
   */
  async call(interfaceName, functionName, args) {
    const unit = new UnitOfWork();
    this.work = unit;
    let outcome;
    try {
      outcome = { value: this.exports[interfaceName][functionName](...args) };
    } catch (thrown) {
      if (!(thrown && Object.hasOwn(thrown, 'payload'))) {
        this.work = null;
        this.exports = await this.instantiate(this.coreModule, this.imports());
        throw thrown;
      }
      outcome = { err: thrown.payload };
    }
    this.work = null;
    this.commit(unit);
    return outcome;
  }

  /** Applies a finished call's writes, in the order the reference host does. */
  commit(unit) {
    const state = this.state;
    for (const [key, value] of unit.kv) {
      if (value === null) state.kv.delete(key);
      else state.kv.set(key, value);
    }
    for (const { streamId, payload } of unit.events) {
      state.events.push({ sequence: state.events.length + 1, streamId, payload, recordedAt: this.now });
    }
    for (const [key, record] of unit.records) state.records.set(key, record);
    for (const mail of unit.mails) {
      if (state.outbox.has(mail.messageId)) continue; // queued before: "does nothing"
      const addresses = new Set(mail.to.map((mailbox) => normaliseEmail(mailbox.address)));
      state.outbox.set(mail.messageId, { mail, addresses, queuedAt: this.now, forgottenAt: null });
      this.newMail.push(mail.messageId);
    }
    for (const address of unit.forgotten) {
      for (const queued of state.outbox.values()) {
        if (queued.addresses.has(address)) {
          // Cancelled if not delivered yet, destroyed if it was: only the id and times stay.
          queued.mail = null;
          queued.forgottenAt ??= this.now;
        }
      }
    }
    for (const field of unit.removedLayoutFields) state.removedLayoutFields.add(field);
  }

  /** The CRM creates or replaces a record (host state only: the plugin is not called). */
  putRecord(record) {
    this.state.records.set(recordKey(record.module, record.id), record);
  }

  record(module, id) {
    return this.state.records.get(recordKey(module, id)) ?? null;
  }

  /** Committed events of every stream after sequence `after`, oldest first. */
  eventsAfter(after) {
    return this.state.events.filter((event) => event.sequence > after);
  }

  /** Mail committed since the last look, in the order sent; "delivered" by looking. */
  takeMail() {
    const ids = this.newMail;
    this.newMail = [];
    return ids.map((id) => this.state.outbox.get(id).mail).filter((mail) => mail !== null);
  }

  /** The unit of the call in progress; an import outside a call is the host's bug. */
  unit() {
    if (this.work === null) throw new HostFailure('an import was called outside an export call');
    return this.work;
  }

  // ---- the record as this call sees it --------------------------------------------------

  currentRecord(module, id) {
    const key = recordKey(module, id);
    return this.unit().records.get(key) ?? this.state.records.get(key) ?? null;
  }

  /** Every record as this call sees it: committed ones overlaid with the call's own. */
  currentRecords() {
    return new Map([...this.state.records, ...this.unit().records]);
  }

  changeRecord(ref, change) {
    const record = this.currentRecord(ref.module, ref.id);
    if (record === null) return crmError('not-found', { module: ref.module, id: ref.id });
    const changed = { ...record, fields: record.fields.map(([name, value]) => [name, value]) };
    change(changed);
    changed.modifiedAt = this.now;
    this.unit().records.set(recordKey(ref.module, ref.id), changed);
    return { tag: 'ok' };
  }

  // ---- the imports -----------------------------------------------------------------------

  /** The import object: the contract's six interfaces and the WASI the guest's std needs. */
  imports() {
    const interfaces = {
      crm: this.crm(),
      store: this.store(),
      mail: this.mail(),
      clock: { now: () => BigInt(this.now) },
      keys: this.keys(),
      log: this.log(),
      types: {},
    };
    const imports = {};
    for (const [name, implementation] of Object.entries(interfaces)) {
      imports[`${PACKAGE}/${name}`] = Object.fromEntries(
        Object.entries(implementation).map(([fn, body]) => [fn, failingAsHost(`${name}.${fn}`, body)]),
      );
    }
    return { ...imports, ...wasi() };
  }

  crm() {
    return {
      getRecord: (ref) => {
        const record = this.currentRecord(ref.module, ref.id);
        return record === null ? crmError('not-found', { module: ref.module, id: ref.id }) : { tag: 'ok', val: personRecord(record) };
      },
      findByEmail: (address) => {
        const wanted = normaliseEmail(address);
        const found = [...this.currentRecords().values()].filter((record) => normaliseEmail(field(record, 'email')) === wanted);
        found.sort((a, b) => byText(a.module, b.module) || byText(a.id, b.id));
        return { tag: 'ok', val: found.map((record) => ({ module: record.module, id: record.id })) };
      },
      listRecords: (module, cursor, limit) => {
        limit = Math.min(Math.max(limit, 1), MAX_PAGE);
        const page = [...this.currentRecords().values()]
          .filter((record) => record.module === module && (cursor === undefined || byText(record.id, cursor) > 0))
          .sort((a, b) => byText(a.id, b.id))
          .slice(0, limit);
        const nextCursor = page.length === limit ? page[page.length - 1].id : undefined;
        return { tag: 'ok', val: { records: page.map(personRecord), nextCursor } };
      },
      updateField: (ref, name, value) =>
        fieldNameProblem(name) ?? this.changeRecord(ref, (record) => setField(record, name, value)),
      eraseField: (ref, name) => fieldNameProblem(name) ?? this.changeRecord(ref, (record) => setField(record, name, '')),
      setStatus: (ref, status) => this.changeRecord(ref, (record) => (record.status = status)),
      setLocked: (ref, locked) => this.changeRecord(ref, (record) => (record.locked = locked)),
      removeLayoutField: (module, name) => {
        const problem = fieldNameProblem(name);
        if (problem) return problem;
        this.unit().removedLayoutFields.add(recordKey(module, name));
        return { tag: 'ok' };
      },
    };
  }

  store() {
    const read = (key) => {
      const unit = this.unit();
      return unit.kv.has(key) ? unit.kv.get(key) : this.state.kv.get(key) ?? null;
    };
    return {
      get: (key) => read(key) ?? undefined,
      getMany: (keys) => {
        const values = keys.map(read);
        const data = new Uint8Array(values.reduce((total, value) => total + (value?.length ?? 0), 0));
        let start = 0;
        const spans = values.map((value) => {
          if (value === null) return undefined;
          data.set(value, start);
          start += value.length;
          return [start - value.length, value.length];
        });
        return { data, spans };
      },
      put: (key, value) => {
        this.unit().spend('storeBytes', Buffer.byteLength(key) + value.length);
        this.unit().kv.set(key, Uint8Array.from(value));
      },
      delete: (key) => {
        this.unit().spend('storeBytes', Buffer.byteLength(key));
        this.unit().kv.set(key, null);
      },
      scan: (prefix, after, limit) => {
        const keys = new Set([...this.state.kv.keys(), ...this.unit().kv.keys()]);
        return [...keys]
          .filter((key) => key.startsWith(prefix) && (after === undefined || byText(key, after) > 0))
          .sort(byText)
          .map((key) => ({ key, value: read(key) }))
          .filter((entry) => entry.value !== null)
          .slice(0, limit);
      },
      appendEvent: (streamId, payload) => {
        const unit = this.unit();
        unit.spend('events', 1);
        unit.spend('storeBytes', Buffer.byteLength(streamId) + Buffer.byteLength(payload));
        unit.events.push({ streamId, payload });
      },
      readEvents: (streamId, after, limit) => {
        const committed = this.state.events
          .filter((event) => event.streamId === streamId && (after === undefined || BigInt(event.sequence) > after))
          .slice(0, limit)
          .map((event) => ({ ...event, sequence: BigInt(event.sequence), recordedAt: BigInt(event.recordedAt) }));
        // The call's own events are not committed yet: they come last, with sequence 0.
        const pending = this.unit()
          .events.filter((event) => event.streamId === streamId)
          .slice(0, Math.max(0, limit - committed.length))
          .map((event) => ({ sequence: 0n, streamId, payload: event.payload, recordedAt: BigInt(this.now) }));
        return [...committed, ...pending];
      },
    };
  }

  mail() {
    return {
      send: (message) => {
        const unit = this.unit();
        unit.spend('mails', 1);
        const headerBytes = message.headers.reduce((total, [name, value]) => total + name.length + value.length, 0);
        unit.spend('mailBytes', message.subject.length + message.textBody.length + (message.htmlBody?.length ?? 0) + headerBytes);
        const problem = messageProblem(message);
        if (problem) return { tag: 'err', val: { tag: 'rejected', val: problem } };
        if (!unit.mails.some((queued) => queued.messageId === message.messageId)) unit.mails.push(message);
        return { tag: 'ok' };
      },
      forget: (address) => {
        this.unit().forgotten.add(normaliseEmail(address));
      },
    };
  }

  keys() {
    const mac = (data) => createHmac('sha256', this.linkKey).update(data).digest();
    return {
      sign: (data) => new Uint8Array(mac(data)),
      verify: (data, given) => {
        const expected = mac(data);
        return given.length === expected.length && timingSafeEqual(expected, given);
      },
      randomBytes: (length) => {
        if (length > MAX_RANDOM_BYTES) {
          throw new HostFailure(`random-bytes asked for ${length} bytes; at most ${MAX_RANDOM_BYTES} per call`);
        }
        return new Uint8Array(randomBytes(length));
      },
    };
  }

  log() {
    const kept = (level) => LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(this.logLevel);
    return {
      log: (level, message, fields) => {
        this.unit().spend('logBytes', message.length + fields.reduce((total, [name, value]) => total + name.length + value.length, 0));
        if (!kept(level)) return;
        const text = fields.map(([name, value]) => `${name}=${value}`).join(' ');
        process.stderr.write(`plugin ${level}: ${message}${text ? ` ${text}` : ''}\n`);
      },
      // Since 0.3.1: whether a line of `level` is kept (a 0.3.0 component never asks).
      enabled: (level) => kept(level),
    };
  }
}

/** WASI as the reference host grants it: no files, network, environment or arguments;
 * stdin empty; the guest's stdout dropped and its stderr in this host's log. */
function wasi() {
  const cli = createCli({
    stdout: { write() {}, blockingFlush() {} },
    stderr: {
      write(contents) {
        process.stderr.write(`plugin stderr: ${Buffer.from(contents).toString()}`);
      },
      blockingFlush() {},
    },
  });
  return {
    'wasi:cli/environment': cli.environment,
    'wasi:cli/exit': cli.exit,
    'wasi:cli/stdin': cli.stdin,
    'wasi:cli/stdout': cli.stdout,
    'wasi:cli/stderr': cli.stderr,
    'wasi:cli/terminal-input': cli.terminalInput,
    'wasi:cli/terminal-output': cli.terminalOutput,
    'wasi:cli/terminal-stdin': cli.terminalStdin,
    'wasi:cli/terminal-stdout': cli.terminalStdout,
    'wasi:cli/terminal-stderr': cli.terminalStderr,
    'wasi:io/error': error,
    'wasi:io/poll': poll,
    'wasi:io/streams': streams,
    'wasi:random/insecure-seed': insecureSeed,
  };
}

/** An import that throws traps the call: whatever it throws becomes a HostFailure, so
 * that a host's own fault is never mistaken for a caller's wrong arguments. */
function failingAsHost(name, body) {
  return (...args) => {
    try {
      return body(...args);
    } catch (thrown) {
      throw thrown instanceof HostFailure ? thrown : new HostFailure(`${name} failed: ${thrown?.message ?? thrown}`);
    }
  };
}

// ---- records and mail ---------------------------------------------------------------------

function crmError(tag, val) {
  return { tag: 'err', val: { tag, val } };
}

function field(record, name) {
  return record.fields.find(([field]) => field === name)?.[1] ?? '';
}

/** Sets a field, appending it when the record does not have it yet. */
function setField(record, name, value) {
  const existing = record.fields.find(([field]) => field === name);
  if (existing) existing[1] = value;
  else record.fields.push([name, value]);
}

/** The CRM's field names: 1-64 letters, digits, `_` or `-` (as the reference host). */
function fieldNameProblem(name) {
  if (/^[A-Za-z0-9_-]{1,64}$/.test(name)) return null;
  return crmError('invalid', `\`${name}\` is not a field name: use 1-64 letters, digits, \`_\` or \`-\``);
}

/** A record as jco takes a `person-record`. */
function personRecord(record) {
  return {
    ref: { module: record.module, id: record.id },
    fields: record.fields.map(([name, value]) => ({ name, value })),
    status: record.status,
    locked: record.locked,
    modifiedAt: BigInt(record.modifiedAt),
  };
}

const LINE_BREAK = /[\r\n]/;
const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function validAddress(address) {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at > 64) return false;
  const domain = address.slice(at + 1);
  const literal = domain.startsWith('[') && domain.endsWith(']') ? domain.slice(1, -1) : domain;
  return LOCAL_PART.test(address.slice(0, at)) && (DOMAIN.test(domain) || isIP(literal) !== 0);
}

/** What makes a message unsafe to queue: it would corrupt the mail or let a value inject
 * headers. The same checks as the reference host's `mail.send`. */
function messageProblem(message) {
  const id = message.messageId;
  if (id === '' || Buffer.byteLength(id) > 250 || !id.includes('@') || /[\s\p{Cc}<>]/u.test(id)) {
    return `message id \`${id}\` must look like \`unique@domain\`, without spaces or angle brackets`;
  }
  if (message.to.length === 0) return 'a message needs at least one recipient';
  for (const mailbox of [message.sender, ...message.to]) {
    if (!validAddress(mailbox.address)) return `\`${mailbox.address}\` is not a valid email address`;
    if (mailbox.name !== undefined && LINE_BREAK.test(mailbox.name)) return `the display name for ${mailbox.address} contains a line break`;
  }
  if (LINE_BREAK.test(message.subject)) return 'the subject contains a line break';
  for (const [name, value] of message.headers) {
    if (!/^[!-9;-~]+$/.test(name)) return `\`${name}\` is not a valid header name`;
    if (LINE_BREAK.test(value)) return `the value of header ${name} contains a line break`;
  }
  return null;
}
