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
    tdState.set(this, { fatal: !!o.fatal, ignoreBOM: !!o.ignoreBOM });
  }
  get encoding() { return "utf-8"; }
  get fatal() { return tdState.get(this).fatal; }
  get ignoreBOM() { return tdState.get(this).ignoreBOM; }
  decode(input, options) {
    const st = tdState.get(this);
    if (!st) throw new TypeError("TextDecoder.decode: illegal invocation");
    if (options != null && Object(options).stream) throw new TypeError("TextDecoder.decode: the stream option is not supported");
    if (input === undefined) return "";
    let bytes;
    if (input instanceof ArrayBuffer) bytes = new Uint8Array(input);
    else if (ArrayBuffer.isView(input)) bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    else throw new TypeError("TextDecoder.decode: expected an ArrayBuffer or a view of one");
    const s = host.utf8Decode(bytes, st.fatal, st.ignoreBOM);
    if (s === null) throw new TypeError("TextDecoder.decode: the data is not valid UTF-8");
    return s;
  }
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
return { queueMicrotask, subtle, CryptoKey, DOMException, TextEncoder, TextDecoder, atob, btoa, getRandomValues, structuredClone, AbortController, AbortSignal };
})
