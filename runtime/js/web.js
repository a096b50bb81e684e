// The WinterTC-style globals of README.md "Built-ins", built on first use
// of any of them (see web.go). host holds the Go primitives; every loop
// here is interruptible and every allocation bounded.
(function (host) {
"use strict";
const defineName = (f, n) => Object.defineProperty(f, "name", { value: n });

const codes = { IndexSizeError: 1, NotFoundError: 8, NotSupportedError: 9, InvalidStateError: 11,
  SyntaxError: 12, InvalidAccessError: 15, TimeoutError: 23, InvalidCharacterError: 5,
  QuotaExceededError: 22, DataCloneError: 25, AbortError: 20, OperationError: 0, EncodingError: 0 };
class DOMException extends Error {
  constructor(message = "", name = "Error") {
    super(String(message));
    Object.defineProperty(this, "name", { value: String(name), configurable: true, writable: true });
  }
  get code() { return codes[this.name] || 0; }
}

// --- TextEncoder / TextDecoder -------------------------------------------
class TextEncoder {
  get encoding() { return "utf-8"; }
  encode(input = "") { return host.utf8Encode(String(input)); }
  encodeInto(source, dest) {
    if (!(dest instanceof Uint8Array)) throw new TypeError("TextEncoder.encodeInto: the destination must be a Uint8Array");
    const s = String(source);
    let read = 0, written = 0;
    const n = dest.length;
    for (const ch of s) {
      let c = ch.codePointAt(0);
      if (c >= 0xD800 && c <= 0xDFFF) c = 0xFFFD;
      const len = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
      if (written + len > n) break;
      if (len === 1) dest[written] = c;
      else if (len === 2) { dest[written] = 0xC0 | c >> 6; dest[written + 1] = 0x80 | c & 63; }
      else if (len === 3) { dest[written] = 0xE0 | c >> 12; dest[written + 1] = 0x80 | c >> 6 & 63; dest[written + 2] = 0x80 | c & 63; }
      else { dest[written] = 0xF0 | c >> 18; dest[written + 1] = 0x80 | c >> 12 & 63; dest[written + 2] = 0x80 | c >> 6 & 63; dest[written + 3] = 0x80 | c & 63; }
      written += len;
      read += ch.length;
    }
    return { read, written };
  }
}

const labels = ["utf-8", "utf8", "unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "x-unicode20utf8"];
const tdState = new WeakMap();
class TextDecoder {
  constructor(label = "utf-8", options = {}) {
    const l = String(label).trim().toLowerCase();
    if (!labels.includes(l)) throw new RangeError(`TextDecoder: the encoding "${label}" is not supported (only utf-8)`);
    const o = options == null ? {} : Object(options);
    tdState.set(this, { fatal: !!o.fatal, ignoreBOM: !!o.ignoreBOM, pending: null, started: false });
  }
  get encoding() { return "utf-8"; }
  get fatal() { return tdState.get(this).fatal; }
  get ignoreBOM() { return tdState.get(this).ignoreBOM; }
  decode(input, options) {
    const st = tdState.get(this);
    if (!st) throw new TypeError("TextDecoder.decode: illegal invocation");
    const stream = options != null && !!Object(options).stream;
    let bytes;
    if (input === undefined) bytes = new Uint8Array(0);
    else if (input instanceof ArrayBuffer) bytes = new Uint8Array(input);
    else if (ArrayBuffer.isView(input)) bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    else throw new TypeError("TextDecoder.decode: expected an ArrayBuffer or a view of one");
    if (st.pending) {
      // The incomplete sequence (at most 3 bytes) the last call kept.
      const m = new Uint8Array(st.pending.length + bytes.length);
      m.set(st.pending);
      m.set(bytes, st.pending.length);
      bytes = m;
      st.pending = null;
    }
    if (stream) {
      const cut = incompleteTail(bytes);
      if (cut) {
        st.pending = bytes.slice(bytes.length - cut);
        bytes = bytes.subarray(0, bytes.length - cut);
      }
    }
    // A BOM is taken off only at the start of the stream.
    const s = bytes.length ? host.utf8Decode(bytes, st.fatal, st.ignoreBOM || st.started) : "";
    if (s === null) { st.started = false; st.pending = null; throw new TypeError("TextDecoder.decode: the data is not valid UTF-8"); }
    st.started = stream && (st.started || bytes.length > 0);
    return s;
  }
}

// incompleteTail is how many bytes at the end of b start a UTF-8 sequence
// that the next chunk may complete (0 to 3).
function incompleteTail(b) {
  const n = b.length;
  for (let k = 1; k <= 3 && k <= n; k++) {
    const c = b[n - k];
    if ((c & 0xC0) === 0x80) continue;
    const need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c < 0xF0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 1;
    return need > k ? k : 0;
  }
  return 0;
}

// --- atob / btoa ----------------------------------------------------------
function atob(data) {
  if (arguments.length < 1) throw new TypeError("atob: 1 argument required");
  const s = host.atob(String(data));
  if (s === null) throw new DOMException("atob: the string to be decoded is not correctly encoded", "InvalidCharacterError");
  return s;
}
function btoa(data) {
  if (arguments.length < 1) throw new TypeError("btoa: 1 argument required");
  const s = host.btoa(String(data));
  if (s === null) throw new DOMException("btoa: the string contains characters outside of the Latin1 range", "InvalidCharacterError");
  return s;
}

// --- crypto.getRandomValues -----------------------------------------------
const integerArrays = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array];
function getRandomValues(array) {
  if (!integerArrays.some((C) => array instanceof C)) {
    throw new DOMException("crypto.getRandomValues: the argument must be an integer typed array", "TypeMismatchError");
  }
  if (array.byteLength > 65536) {
    throw new DOMException(`crypto.getRandomValues: ${array.byteLength} bytes asked, at most 65536`, "QuotaExceededError");
  }
  host.fillRandom(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  return array;
}

// --- structuredClone ------------------------------------------------------
const toTag = (x) => Object.prototype.toString.call(x);
const brand = (proto, getter, x) => {
  try { Object.getOwnPropertyDescriptor(proto, getter).get.call(x); return true; } catch (e) { return false; }
};
const typedArrays = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array];
const errorTypes = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };

function structuredClone(value, options) {
  if (options != null && Object(options).transfer !== undefined && Object(options).transfer.length) {
    throw new DOMException("structuredClone: transfer is not supported", "DataCloneError");
  }
  const memo = new Map();
  const work = [];
  let nodes = 0, bytes = 0;
  const maxNodes = host.maxNodes, maxBytes = host.maxBytes;
  const fail = (what) => { throw new DOMException(`structuredClone: ${what} could not be cloned`, "DataCloneError"); };
  const count = (n, node = 1) => {
    if ((nodes += node) > maxNodes) throw new DOMException(`structuredClone: more than ${maxNodes} values`, "DataCloneError");
    if ((bytes += n) > maxBytes) throw new DOMException(`structuredClone: more than ${maxBytes} bytes`, "DataCloneError");
  };
  function clone(x) {
    const t = typeof x;
    if (t === "symbol") fail("a symbol");
    if (t === "function") fail(`function ${x.name || "(anonymous)"}`);
    if (x === null || t !== "object") return x;
    if (memo.has(x)) return memo.get(x);
    count(0);
    let out;
    if (Array.isArray(x)) {
      out = new Array(x.length >>> 0);
      memo.set(x, out);
      work.push(x, out);
      return out;
    }
    const tag = toTag(x);
    if (tag === "[object Object]" && Object.getPrototypeOf(x) === Object.prototype) {
      out = {}; // the common case first
      memo.set(x, out);
      work.push(x, out);
      return out;
    }
    if (x instanceof Date || tag === "[object Date]") {
      out = new Date(Date.prototype.getTime.call(x));
    } else if (x instanceof RegExp) {
      out = new RegExp(x.source, x.flags);
    } else if (tag === "[object ArrayBuffer]" && brand(ArrayBuffer.prototype, "byteLength", x)) {
      count(x.byteLength, 0);
      out = x.slice(0);
    } else if (ArrayBuffer.isView(x)) {
      const buf = clone(x.buffer);
      if (x instanceof DataView) out = new DataView(buf, x.byteOffset, x.byteLength);
      else {
        const C = typedArrays.find((C) => x instanceof C);
        if (!C) fail("this view");
        out = new C(buf, x.byteOffset, x.length);
      }
    } else if (x instanceof Map) {
      out = new Map();
      memo.set(x, out);
      const entries = [];
      for (const [k, v] of Map.prototype.entries.call(x)) { count(0); entries.push(k, v); }
      work.push(entries, out);
      return out;
    } else if (x instanceof Set) {
      out = new Set();
      memo.set(x, out);
      const entries = [];
      for (const v of Set.prototype.values.call(x)) { count(0); entries.push(v); }
      work.push(entries, out);
      return out;
    } else if (x instanceof Error) {
      const C = errorTypes[x.name] || Error;
      out = new C(x.message);
      if (typeof x.stack === "string") Object.defineProperty(out, "stack", { value: x.stack, writable: true, configurable: true });
      memo.set(x, out);
      if ("cause" in x) work.push({ cause: x.cause }, out);
      return out;
    } else if (x instanceof Boolean || x instanceof Number || x instanceof String) {
      out = Object(x.valueOf());
    } else if (tag === "[object Object]" || tag === "[object Arguments]") {
      if (x instanceof Promise || x instanceof WeakMap || x instanceof WeakSet || typeof x.then === "function") fail(tag);
      out = {};
      memo.set(x, out);
      work.push(x, out);
      return out;
    } else {
      fail(tag);
    }
    memo.set(x, out);
    return out;
  }
  const root = clone(value);
  while (work.length) {
    const dst = work.pop(), src = work.pop();
    if (dst instanceof Map) {
      for (let i = 0; i < src.length; i += 2) dst.set(clone(src[i]), clone(src[i + 1]));
    } else if (dst instanceof Set) {
      for (let i = 0; i < src.length; i++) dst.add(clone(src[i]));
    } else if (dst instanceof Error) {
      dst.cause = clone(src.cause);
    } else {
      for (const k of Object.keys(src)) { count(k.length, 0); dst[k] = clone(src[k]); }
    }
  }
  return root;
}

// --- AbortController / AbortSignal ----------------------------------------
const signalState = new WeakMap();
const newSignal = () => {
  const s = Object.create(AbortSignal.prototype);
  signalState.set(s, { aborted: false, reason: undefined, listeners: new Map(), onabort: null, deps: [] });
  return s;
};
const sig = (s) => {
  const st = signalState.get(s);
  if (!st) throw new TypeError("illegal invocation: not an AbortSignal");
  return st;
};
function abortSignal(s, reason) {
  const st = sig(s);
  if (st.aborted) return;
  st.aborted = true;
  st.reason = reason === undefined ? new DOMException("signal is aborted without reason", "AbortError") : reason;
  const ev = { type: "abort", target: s, currentTarget: s, defaultPrevented: false, preventDefault() {} };
  const ls = [];
  for (const fn of st.listeners.keys()) ls.push({ fn });
  st.listeners.clear();
  if (typeof st.onabort === "function") ls.unshift({ fn: st.onabort });
  for (const l of ls) {
    try {
      if (typeof l.fn === "function") l.fn.call(s, ev);
      else l.fn.handleEvent(ev);
    } catch (e) {
      host.reportError(e);
    }
  }
  for (const d of st.deps.splice(0)) abortSignal(d, st.reason);
}
class AbortSignal {
  constructor() { throw new TypeError("AbortSignal: illegal constructor (use AbortController or AbortSignal.abort)"); }
  get aborted() { return sig(this).aborted; }
  get reason() { return sig(this).reason; }
  get onabort() { return sig(this).onabort; }
  set onabort(f) { sig(this).onabort = typeof f === "function" ? f : null; }
  throwIfAborted() { const st = sig(this); if (st.aborted) throw st.reason; }
  addEventListener(type, fn, options) {
    const st = sig(this);
    if (type !== "abort" || fn == null || st.aborted) return;
    if (st.listeners.has(fn)) return;
    if (st.listeners.size >= host.maxListeners) throw new RangeError(`AbortSignal: more than ${host.maxListeners} listeners`);
    st.listeners.set(fn, true);
  }
  removeEventListener(type, fn) {
    const st = sig(this);
    if (type !== "abort") return;
    st.listeners.delete(fn);
  }
  dispatchEvent() { throw new TypeError("AbortSignal.dispatchEvent is not supported"); }
  static abort(reason) { const s = newSignal(); abortSignal(s, reason); return s; }
  static timeout(ms) {
    const n = Number(ms);
    if (!(n >= 0) || n > 2 ** 53) throw new TypeError("AbortSignal.timeout: the delay must be a number ≥ 0");
    if (typeof host.setTimeout !== "function") throw new TypeError("AbortSignal.timeout: timers are not available");
    const s = newSignal();
    host.setTimeout(() => abortSignal(s, new DOMException("signal timed out", "TimeoutError")), n);
    return s;
  }
  static any(signals) {
    const s = newSignal();
    const list = [];
    for (const d of signals) { sig(d); if (list.length >= host.maxListeners) throw new RangeError(`AbortSignal.any: more than ${host.maxListeners} signals`); list.push(d); }
    for (const d of list) {
      const st = sig(d);
      if (st.aborted) { abortSignal(s, st.reason); return s; }
    }
    for (const d of list) {
      const st = sig(d);
      if (st.deps.length >= host.maxListeners) throw new RangeError(`AbortSignal.any: more than ${host.maxListeners} dependents`);
      st.deps.push(s);
    }
    return s;
  }
  get [Symbol.toStringTag]() { return "AbortSignal"; }
}
const ctrlSignal = new WeakMap();
class AbortController {
  constructor() { ctrlSignal.set(this, newSignal()); }
  get signal() { return ctrlSignal.get(this); }
  abort(reason) { abortSignal(ctrlSignal.get(this), reason); }
}

// --- crypto.subtle (digest; HMAC importKey "raw", sign, verify) ------------
const hashNames = { "SHA-1": "SHA-1", "SHA-256": "SHA-256", "SHA-384": "SHA-384", "SHA-512": "SHA-512" };
const hashOf = (alg, what) => {
  const n = typeof alg === "string" ? alg : alg && alg.name;
  const h = hashNames[String(n).toUpperCase()];
  if (!h) throw new DOMException(`${what}: the algorithm ${n} is not supported (SHA-1, SHA-256, SHA-384, SHA-512)`, "NotSupportedError");
  return h;
};
const bytesOf = (data, what) => {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`${what}: expected an ArrayBuffer or a view of one`);
};
const keyState = new WeakMap();
class CryptoKey {
  constructor() { throw new TypeError("CryptoKey: illegal constructor"); }
  get type() { return keyState.get(this).type; }
  get extractable() { return keyState.get(this).extractable; }
  get algorithm() { return { name: "HMAC", hash: { name: keyState.get(this).hash }, length: keyState.get(this).key.length * 8 }; }
  get usages() { return keyState.get(this).usages.slice(); }
}
const hmacKey = (key, usage, what) => {
  const st = key != null && keyState.get(key);
  if (!st) throw new TypeError(`${what}: the key is not a CryptoKey`);
  if (!st.usages.includes(usage)) throw new DOMException(`${what}: the key may not ${usage}`, "InvalidAccessError");
  return st;
};
const checkHMAC = (alg, what) => {
  const n = typeof alg === "string" ? alg : alg && alg.name;
  if (String(n).toUpperCase() !== "HMAC") throw new DOMException(`${what}: only HMAC is supported`, "NotSupportedError");
};
const subtle = {
  async digest(alg, data) {
    return host.digest(hashOf(alg, "crypto.subtle.digest"), bytesOf(data, "crypto.subtle.digest"));
  },
  async importKey(format, keyData, alg, extractable, usages) {
    const what = "crypto.subtle.importKey";
    if (format !== "raw") throw new DOMException(`${what}: only the "raw" format is supported`, "NotSupportedError");
    checkHMAC(alg, what);
    const hash = hashOf(alg.hash, what);
    const u = Array.from(usages || [], String);
    if (u.some((x) => x !== "sign" && x !== "verify")) throw new SyntaxError(`${what}: an HMAC key can only sign and verify`);
    const key = bytesOf(keyData, what).slice();
    if (key.length === 0) throw new DOMException(`${what}: the key is empty`, "DataError");
    const k = Object.create(CryptoKey.prototype);
    keyState.set(k, { type: "secret", extractable: !!extractable, hash, usages: u, key });
    return k;
  },
  async sign(alg, key, data) {
    checkHMAC(alg, "crypto.subtle.sign");
    const st = hmacKey(key, "sign", "crypto.subtle.sign");
    return host.hmac(st.hash, st.key, bytesOf(data, "crypto.subtle.sign"));
  },
  async verify(alg, key, signature, data) {
    checkHMAC(alg, "crypto.subtle.verify");
    const st = hmacKey(key, "verify", "crypto.subtle.verify");
    return host.hmacEqual(st.hash, st.key, bytesOf(data, "crypto.subtle.verify"), bytesOf(signature, "crypto.subtle.verify"));
  },
};
for (const n of ["encrypt", "decrypt", "generateKey", "deriveKey", "deriveBits", "exportKey", "wrapKey", "unwrapKey"]) {
  subtle[n] = async () => { throw new DOMException(`crypto.subtle.${n} is not supported`, "NotSupportedError"); };
}
Object.defineProperty(subtle, Symbol.toStringTag, { value: "SubtleCrypto" });

// --- queueMicrotask ---------------------------------------------------------
function queueMicrotask(callback) {
  if (typeof callback !== "function") throw new TypeError("queueMicrotask: the callback must be a function");
  Promise.resolve().then(() => callback());
}

for (const f of [queueMicrotask, atob, btoa, getRandomValues, structuredClone]) defineName(f, f.name);
// --- Blob / File -------------------------------------------------------------
// A Blob holds its bytes whole (at most host.maxBytes); parts are copied.
const blobState = new WeakMap();
const blobOf = (b, what) => {
  const st = b != null && blobState.get(b);
  if (!st) throw new TypeError(`${what}: illegal invocation: not a Blob`);
  return st;
};
const partBytes = (p) => {
  if (p instanceof ArrayBuffer) return new Uint8Array(p.slice(0));
  if (ArrayBuffer.isView(p)) return new Uint8Array(p.buffer.slice(p.byteOffset, p.byteOffset + p.byteLength));
  const st = p != null && typeof p === "object" && blobState.get(p);
  if (st) return st.bytes;
  return host.utf8Encode(String(p));
};
const concatBytes = (chunks, size) => {
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) { out.set(c, off); off += c.length; }
  return out;
};
const blobType = (t) => {
  if (t === undefined) return "";
  t = String(t);
  return /[^\x20-\x7E]/.test(t) ? "" : t.toLowerCase();
};
const newBlob = (proto, bytes, type) => {
  const b = Object.create(proto);
  blobState.set(b, { bytes, type });
  return b;
};
class Blob {
  constructor(parts, options) {
    const chunks = [];
    let size = 0;
    if (parts !== undefined) {
      if (parts === null || typeof parts !== "object" || typeof parts[Symbol.iterator] !== "function") {
        throw new TypeError("Blob: the parts must be an iterable (an array)");
      }
      for (const p of parts) {
        const b = partBytes(p);
        size += b.length;
        if (size > host.maxBytes) throw new RangeError(`Blob: more than ${host.maxBytes} bytes`);
        chunks.push(b);
      }
    }
    const o = options == null ? {} : Object(options);
    blobState.set(this, { bytes: concatBytes(chunks, size), type: blobType(o.type) });
  }
  get size() { return blobOf(this, "Blob.size").bytes.length; }
  get type() { return blobOf(this, "Blob.type").type; }
  async text() { return host.utf8Decode(blobOf(this, "Blob.text").bytes, false, false); }
  async arrayBuffer() { return blobOf(this, "Blob.arrayBuffer").bytes.slice().buffer; }
  async bytes() { return blobOf(this, "Blob.bytes").bytes.slice(); }
  stream() { return streamOf(blobOf(this, "Blob.stream").bytes.slice()); }
  slice(start, end, type) {
    const st = blobOf(this, "Blob.slice");
    const n = st.bytes.length;
    const rel = (x, d) => {
      if (x === undefined) return d;
      x = Math.trunc(Number(x)) || 0;
      return x < 0 ? Math.max(n + x, 0) : Math.min(x, n);
    };
    const a = rel(start, 0), b = rel(end, n);
    return newBlob(Blob.prototype, st.bytes.slice(a, Math.max(a, b)), blobType(type));
  }
  get [Symbol.toStringTag]() { return "Blob"; }
}
const fileState = new WeakMap();
class File extends Blob {
  constructor(bits, name, options) {
    if (arguments.length < 2) throw new TypeError("File: 2 arguments required");
    super(bits, options);
    const o = options == null ? {} : Object(options);
    fileState.set(this, { name: String(name), lastModified: o.lastModified === undefined ? Date.now() : Math.trunc(Number(o.lastModified)) || 0 });
  }
  get name() { const st = fileState.get(this); if (!st) throw new TypeError("File.name: illegal invocation"); return st.name; }
  get lastModified() { const st = fileState.get(this); if (!st) throw new TypeError("File.lastModified: illegal invocation"); return st.lastModified; }
  get [Symbol.toStringTag]() { return "File"; }
}

// --- FormData -------------------------------------------------------------------
// At most host.maxFormEntries entries; iteration is live, as the standard says.
const fdState = new WeakMap();
const fdOf = (f, what) => {
  const l = f != null && fdState.get(f);
  if (!l) throw new TypeError(`FormData.${what}: illegal invocation`);
  return l;
};
const fdValue = (value, filename, nargs, what) => {
  if (value != null && typeof value === "object" && blobState.has(value)) {
    if (filename === undefined && fileState.has(value)) return value;
    const name = filename !== undefined ? String(filename) : fileState.has(value) ? value.name : "blob";
    return new File([value], name, { type: value.type, lastModified: fileState.has(value) ? value.lastModified : undefined });
  }
  if (nargs > 2) throw new TypeError(`FormData.${what}: a filename needs a Blob value`);
  return String(value);
};
class FormData {
  constructor(form) {
    if (form !== undefined) throw new TypeError("FormData: a form element is not supported");
    fdState.set(this, []);
  }
  append(name, value, filename) {
    const l = fdOf(this, "append");
    if (arguments.length < 2) throw new TypeError("FormData.append: 2 arguments required");
    if (l.length >= host.maxFormEntries) throw new RangeError(`FormData: more than ${host.maxFormEntries} entries`);
    l.push([String(name), fdValue(value, filename, arguments.length, "append")]);
  }
  set(name, value, filename) {
    const l = fdOf(this, "set");
    if (arguments.length < 2) throw new TypeError("FormData.set: 2 arguments required");
    const n = String(name), v = fdValue(value, filename, arguments.length, "set");
    const i = l.findIndex((e) => e[0] === n);
    if (i < 0) {
      if (l.length >= host.maxFormEntries) throw new RangeError(`FormData: more than ${host.maxFormEntries} entries`);
      l.push([n, v]);
      return;
    }
    l[i] = [n, v];
    for (let j = l.length - 1; j > i; j--) if (l[j][0] === n) l.splice(j, 1);
  }
  get(name) { const n = String(name); const e = fdOf(this, "get").find((e) => e[0] === n); return e ? e[1] : null; }
  getAll(name) { const n = String(name); return fdOf(this, "getAll").filter((e) => e[0] === n).map((e) => e[1]); }
  has(name) { const n = String(name); return fdOf(this, "has").some((e) => e[0] === n); }
  delete(name) {
    const n = String(name), l = fdOf(this, "delete");
    for (let j = l.length - 1; j >= 0; j--) if (l[j][0] === n) l.splice(j, 1);
  }
  forEach(callback, thisArg) {
    const l = fdOf(this, "forEach");
    if (typeof callback !== "function") throw new TypeError("FormData.forEach: the callback must be a function");
    for (let i = 0; i < l.length; i++) callback.call(thisArg, l[i][1], l[i][0], this);
  }
  *entries() { const l = fdOf(this, "entries"); for (let i = 0; i < l.length; i++) yield [l[i][0], l[i][1]]; }
  *keys() { const l = fdOf(this, "keys"); for (let i = 0; i < l.length; i++) yield l[i][0]; }
  *values() { const l = fdOf(this, "values"); for (let i = 0; i < l.length; i++) yield l[i][1]; }
  [Symbol.iterator]() { return this.entries(); }
  get [Symbol.toStringTag]() { return "FormData"; }
}

// bodyInit turns a Blob or FormData body into [bytes, content type]
// (multipart/form-data, as the Fetch standard encodes it), or null.
const enc = (s) => host.utf8Encode(s);
const escName = (s) => s.replace(/\r\n|\r(?!\n)|\n/g, "\r\n").replace(/\n/g, "%0A").replace(/\r/g, "%0D").replace(/"/g, "%22");
function bodyInit(x) {
  const b = x != null && typeof x === "object" && blobState.get(x);
  if (b) return [b.bytes, b.type];
  const l = x != null && typeof x === "object" && fdState.get(x);
  if (!l) return null;
  const rnd = new Uint8Array(12);
  host.fillRandom(rnd);
  const boundary = "----fcgihost" + Array.from(rnd, (c) => c.toString(16).padStart(2, "0")).join("");
  const chunks = [];
  let size = 0;
  const add = (u8) => {
    size += u8.length;
    if (size > host.maxBytes) throw new RangeError(`FormData body: more than ${host.maxBytes} bytes`);
    chunks.push(u8);
  };
  for (const [name, value] of l) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${escName(name)}"`;
    if (typeof value === "string") {
      add(enc(head + "\r\n\r\n"));
      add(enc(value.replace(/\r\n|\r(?!\n)|\n/g, "\r\n")));
    } else {
      head += `; filename="${escName(value.name)}"\r\nContent-Type: ${value.type || "application/octet-stream"}\r\n\r\n`;
      add(enc(head));
      add(blobState.get(value).bytes);
    }
    add(enc("\r\n"));
  }
  add(enc(`--${boundary}--\r\n`));
  return [concatBytes(chunks, size), "multipart/form-data; boundary=" + boundary];
}
// newBlobOf makes the Blob of a body (Request/Response blob()).
const newBlobOf = (bytes, type) => newBlob(Blob.prototype, bytes, blobType(type));

// --- ReadableStream ----------------------------------------------------------------
// The default (non-byte) stream of the Streams standard, enough for a
// Response body: an underlying source's start/pull/cancel, the controller's
// enqueue/close/error, one reader at a time, async iteration. At most
// host.maxQueue chunks and host.maxBytes bytes are queued at once.
const asyncIter = Symbol.asyncIterator || Symbol.for("Symbol.asyncIterator");
const rsState = new WeakMap();
const ctlState = new WeakMap();
const readerState = new WeakMap();
const rs = (s, what) => {
  const st = s != null && rsState.get(s);
  if (!st) throw new TypeError(`ReadableStream.${what}: illegal invocation`);
  return st;
};
const chunkSize = (c) => (typeof c === "string" ? c.length : c != null && typeof c.byteLength === "number" ? c.byteLength : 0);
const rsClose = (st) => {
  st.state = "closed";
  for (const r of st.reads.splice(0)) r.resolve({ value: undefined, done: true });
  st.closedResolve();
};
const rsError = (st, e) => {
  if (st.state !== "readable") return;
  st.state = "errored";
  st.error = e;
  st.queue = [];
  st.queued = 0;
  for (const r of st.reads.splice(0)) r.reject(e);
  st.closedReject(e);
};
const rsPull = (st) => {
  if (!st.started || st.state !== "readable" || st.closeRequested) return;
  if (st.queue.length >= st.hwm && st.reads.length === 0) return;
  if (st.pulling) { st.pullAgain = true; return; }
  st.pulling = true;
  let r;
  try { r = st.pull ? st.pull.call(st.source, st.controller) : undefined; } catch (e) { rsError(st, e); return; }
  Promise.resolve(r).then(() => {
    st.pulling = false;
    if (st.pullAgain) { st.pullAgain = false; rsPull(st); }
  }, (e) => rsError(st, e));
};
class ReadableStreamDefaultController {
  constructor() { throw new TypeError("ReadableStreamDefaultController: illegal constructor"); }
  get desiredSize() {
    const st = ctlState.get(this);
    if (!st) throw new TypeError("illegal invocation");
    return st.state === "errored" ? null : st.state === "closed" ? 0 : st.hwm - st.queue.length;
  }
  enqueue(chunk) {
    const st = ctlState.get(this);
    if (!st) throw new TypeError("illegal invocation");
    if (st.closeRequested || st.state !== "readable") throw new TypeError("ReadableStream: enqueue on a closed or errored stream");
    if (st.reads.length) { st.reads.shift().resolve({ value: chunk, done: false }); rsPull(st); return; }
    if (st.queue.length >= host.maxQueue) throw new RangeError(`ReadableStream: more than ${host.maxQueue} chunks queued`);
    const n = chunkSize(chunk);
    if (st.queued + n > host.maxBytes) throw new RangeError(`ReadableStream: more than ${host.maxBytes} bytes queued`);
    st.queue.push(chunk);
    st.queued += n;
    rsPull(st);
  }
  close() {
    const st = ctlState.get(this);
    if (!st) throw new TypeError("illegal invocation");
    if (st.closeRequested || st.state !== "readable") throw new TypeError("ReadableStream: close of a closed or errored stream");
    st.closeRequested = true;
    if (!st.queue.length) rsClose(st);
  }
  error(e) {
    const st = ctlState.get(this);
    if (!st) throw new TypeError("illegal invocation");
    rsError(st, e);
  }
}
const rsCancel = (st, reason) => {
  if (st.state === "closed") return Promise.resolve();
  if (st.state === "errored") return Promise.reject(st.error);
  st.queue = [];
  st.queued = 0;
  rsClose(st);
  try {
    return Promise.resolve(st.cancel ? st.cancel.call(st.source, reason) : undefined).then(() => undefined);
  } catch (e) {
    return Promise.reject(e);
  }
};
class ReadableStreamDefaultReader {
  constructor(stream) {
    const st = rs(stream, "getReader");
    if (st.reader) throw new TypeError("ReadableStream: already locked to a reader");
    st.reader = this;
    readerState.set(this, { st });
  }
  get closed() { const r = readerState.get(this); if (!r) throw new TypeError("illegal invocation"); return r.st.closed; }
  read() {
    const r = readerState.get(this);
    if (!r || !r.st) return Promise.reject(new TypeError("ReadableStreamDefaultReader.read: the reader is released"));
    const st = r.st;
    if (st.queue.length) {
      const value = st.queue.shift();
      st.queued -= chunkSize(value);
      if (st.closeRequested && !st.queue.length) rsClose(st);
      else rsPull(st);
      return Promise.resolve({ value, done: false });
    }
    if (st.state === "closed") return Promise.resolve({ value: undefined, done: true });
    if (st.state === "errored") return Promise.reject(st.error);
    if (st.reads.length >= host.maxQueue) return Promise.reject(new RangeError(`ReadableStream: more than ${host.maxQueue} pending reads`));
    return new Promise((resolve, reject) => {
      st.reads.push({ resolve, reject });
      rsPull(st);
    });
  }
  releaseLock() {
    const r = readerState.get(this);
    if (!r || !r.st) return;
    const st = r.st;
    for (const p of st.reads.splice(0)) p.reject(new TypeError("ReadableStream: the reader was released"));
    st.reader = null;
    r.st = null;
  }
  cancel(reason) {
    const r = readerState.get(this);
    if (!r || !r.st) return Promise.reject(new TypeError("ReadableStreamDefaultReader.cancel: the reader is released"));
    return rsCancel(r.st, reason);
  }
}
class ReadableStream {
  constructor(source, strategy) {
    const src = source == null ? {} : Object(source);
    if (src.type !== undefined) throw new RangeError("ReadableStream: byte streams (type: \"bytes\") are not supported");
    const hwm = strategy != null && strategy.highWaterMark !== undefined ? Number(strategy.highWaterMark) : 1;
    if (!(hwm >= 0)) throw new RangeError("ReadableStream: highWaterMark must be a number ≥ 0");
    const st = { state: "readable", queue: [], queued: 0, reads: [], closeRequested: false, error: undefined,
      source: src, pull: typeof src.pull === "function" ? src.pull : null, cancel: typeof src.cancel === "function" ? src.cancel : null,
      pulling: false, pullAgain: false, started: false, hwm: Math.min(hwm, host.maxQueue), reader: null, controller: null };
    st.closed = new Promise((resolve, reject) => { st.closedResolve = resolve; st.closedReject = reject; });
    st.closed.catch(() => {});
    const c = Object.create(ReadableStreamDefaultController.prototype);
    ctlState.set(c, st);
    st.controller = c;
    rsState.set(this, st);
    const r = typeof src.start === "function" ? src.start.call(src, c) : undefined;
    Promise.resolve(r).then(() => { st.started = true; rsPull(st); }, (e) => rsError(st, e));
  }
  get locked() { return !!rs(this, "locked").reader; }
  getReader(options) {
    if (options != null && Object(options).mode !== undefined) throw new RangeError("ReadableStream.getReader: only the default reader is supported");
    return new ReadableStreamDefaultReader(this);
  }
  cancel(reason) {
    const st = rs(this, "cancel");
    if (st.reader) return Promise.reject(new TypeError("ReadableStream.cancel: the stream is locked"));
    return rsCancel(st, reason);
  }
  values(options) {
    const reader = this.getReader();
    const keep = options != null && !!Object(options).preventCancel;
    return {
      next() { return reader.read(); },
      return(value) {
        const p = keep ? Promise.resolve() : reader.cancel();
        reader.releaseLock();
        return p.then(() => ({ value, done: true }));
      },
      [asyncIter]() { return this; },
    };
  }
  [asyncIter](options) { return this.values(options); }
  get [Symbol.toStringTag]() { return "ReadableStream"; }
}

// streamOf makes a stream of one chunk (a body read as response.body).
const streamOf = (bytes) => new ReadableStream({ start(c) { if (bytes.length) c.enqueue(bytes); c.close(); } });
// streamReader is the host's reader of a Response body stream: read() and
// cancel().
const streamReader = (stream) => {
  const r = stream.getReader();
  return { read: () => r.read(), cancel: (e) => r.cancel(e) };
};
// readAll reads a whole stream into one Uint8Array (strings as UTF-8), at
// most host.maxBytes bytes.
const readAll = async (stream) => {
  const r = stream.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { value, done } = await r.read();
    if (done) break;
    const b = typeof value === "string" ? host.utf8Encode(value) : partBytes(value);
    size += b.length;
    if (size > host.maxBytes) { r.cancel(); throw new RangeError(`body: more than ${host.maxBytes} bytes`); }
    chunks.push(b);
  }
  return concatBytes(chunks, size);
};

// consume is text()/json()/... of a stream body.
const consume = (stream, kind, ct, R) => readAll(stream).then((u8) => new R(u8, { headers: ct ? { "content-type": ct } : {} })[kind]());

const { setTimeout, clearTimeout, setInterval, clearInterval } = host;
return { ReadableStream, ReadableStreamDefaultReader, ReadableStreamDefaultController, streamOf, streamReader, readAll, consume,
  Blob, File, FormData, bodyInit, newBlobOf,
  setTimeout, clearTimeout, setInterval, clearInterval, queueMicrotask, subtle, CryptoKey, DOMException, TextEncoder, TextDecoder, atob, btoa, getRandomValues, structuredClone, AbortController, AbortSignal };
})
