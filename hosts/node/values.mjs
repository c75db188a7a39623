// WIT values between the conformance kit's JSON (conformance/README.md) and jco's
// JavaScript mapping. The kit's encoding is close to jco's; the differences, each handled
// here: record fields are kebab-case in JSON and lowerCamelCase in jco; flags are an array
// of names in JSON and an object of booleans in jco; 64-bit integers are numbers in JSON
// and BigInts in jco; option none is null in JSON and undefined in jco; list<u8> is an
// array of numbers in JSON and a Uint8Array in jco. Variants ({tag, val}) and enums (case
// names) are the same in both. A top-level `result` is a thrown ComponentError in jco:
// the driver turns it into {"tag": "err", "val": payload} (see driver.mjs).

/** `modified-at` → `modifiedAt` (also interface and function names). */
export function camelCase(name) {
  return name.replace(/-([a-z0-9])/g, (_, letter) => letter.toUpperCase());
}

/** `modifiedAt` → `modified-at`. */
export function kebabCase(name) {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** A variant (or result) in either encoding: a string `tag`, at most a `val` beside it. */
function isVariant(value) {
  const keys = Object.keys(value);
  return typeof value.tag === 'string' && keys.every((key) => key === 'tag' || key === 'val');
}

/**
 * The one flags type of this world is `sending.obligations`, the field `obligations` of an
 * `allowance`. Its names, in the WIT's order (the order the reference host lists them).
 */
const FLAGS = { obligations: ['preferences-footer', 'strip-tracking'] };

/** A value of the kit's JSON as jco takes it. Numbers stay numbers: jco converts 64-bit
 * arguments with BigInt() itself. */
export function toJco(value) {
  if (Array.isArray(value)) return value.map(toJco);
  if (value === null || typeof value !== 'object') return value;
  if (isVariant(value)) {
    return 'val' in value ? { tag: value.tag, val: toJco(value.val) } : { tag: value.tag };
  }
  const record = {};
  for (const [key, field] of Object.entries(value)) {
    record[camelCase(key)] = FLAGS[key] && Array.isArray(field) ? flagsToJco(field) : toJco(field);
  }
  return record;
}

/** A value jco returned, as the kit's JSON. */
export function fromJco(value) {
  if (value === undefined || value === null) return null;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(fromJco);
  if (typeof value !== 'object') return value;
  if (isVariant(value)) {
    return value.val === undefined ? { tag: value.tag } : { tag: value.tag, val: fromJco(value.val) };
  }
  const record = {};
  for (const [key, field] of Object.entries(value)) {
    const name = kebabCase(key);
    record[name] = FLAGS[name] && isFlags(field) ? flagsFromJco(FLAGS[name], field) : fromJco(field);
  }
  return record;
}

function isFlags(value) {
  return value !== null && typeof value === 'object' && Object.values(value).every((set) => typeof set === 'boolean');
}

function flagsToJco(names) {
  return Object.fromEntries(names.map((name) => [camelCase(name), true]));
}

function flagsFromJco(names, flags) {
  return names.filter((name) => flags[camelCase(name)]);
}
