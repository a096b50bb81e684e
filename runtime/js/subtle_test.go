package js

import (
	"strings"
	"testing"
)

// evalAsync serves GET / to an async handler whose body is code.
func evalAsync(t *testing.T, code string) (string, error) {
	t.Helper()
	a := newApp(t, map[string]string{"app.js": `const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
const enc = (s) => new TextEncoder().encode(s);
module.exports = async () => String(await (async () => {` + code + `})());`})
	r := serve(a.mustVM("app.js"), get("/"))
	return r.body, r.err
}

// TestSubtle checks crypto.subtle against FIPS 180 ("abc") and RFC 4231
// (test cases 1 and 2) vectors.
func TestSubtle(t *testing.T) {
	tests := []struct{ code, want string }{
		{`return hex(await crypto.subtle.digest("SHA-1", enc("abc")))`, "a9993e364706816aba3e25717850c26c9cd0d89d"},
		{`return hex(await crypto.subtle.digest("SHA-256", enc("abc")))`, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{`return hex(await crypto.subtle.digest({name: "SHA-384"}, enc("abc").buffer))`, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"},
		{`return hex(await crypto.subtle.digest("sha-512", enc("abc")))`, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
		{`const k = await crypto.subtle.importKey("raw", new Uint8Array(20).fill(0x0b), {name: "HMAC", hash: "SHA-256"}, false, ["sign"]); return hex(await crypto.subtle.sign("HMAC", k, enc("Hi There")))`,
			"b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
		{`const k = await crypto.subtle.importKey("raw", new Uint8Array(20).fill(0x0b), {name: "HMAC", hash: {name: "SHA-384"}}, false, ["sign"]); return hex(await crypto.subtle.sign({name: "HMAC"}, k, enc("Hi There")))`,
			"afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"},
		{`const k = await crypto.subtle.importKey("raw", new Uint8Array(20).fill(0x0b), {name: "HMAC", hash: "SHA-512"}, false, ["sign"]); return hex(await crypto.subtle.sign("HMAC", k, enc("Hi There")))`,
			"87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
		{`const k = await crypto.subtle.importKey("raw", enc("Jefe"), {name: "HMAC", hash: "SHA-256"}, false, ["sign", "verify"]); const s = await crypto.subtle.sign("HMAC", k, enc("what do ya want for nothing?")); return hex(s) + " " + await crypto.subtle.verify("HMAC", k, s, enc("what do ya want for nothing?")) + " " + await crypto.subtle.verify("HMAC", k, s, enc("what do ya want for nothing!"))`,
			"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843 true false"},
		{`const k = await crypto.subtle.importKey("raw", enc("k"), {name: "HMAC", hash: "SHA-256"}, true, ["verify"]); return [k.type, k.extractable, k.algorithm.hash.name, k.usages].join()`, "secret,true,SHA-256,verify"},
		{`try { await crypto.subtle.digest("MD5", enc("x")) } catch (e) { return e.name }`, "NotSupportedError"},
		{`const k = await crypto.subtle.importKey("raw", enc("k"), {name: "HMAC", hash: "SHA-256"}, false, ["verify"]); try { await crypto.subtle.sign("HMAC", k, enc("x")) } catch (e) { return e.name }`, "InvalidAccessError"},
		{`try { await crypto.subtle.encrypt() } catch (e) { return e.name }`, "NotSupportedError"},
		{`try { await crypto.subtle.importKey("jwk", {}, {name: "HMAC", hash: "SHA-256"}, false, ["sign"]) } catch (e) { return e.name }`, "NotSupportedError"},
		{`return crypto.subtle.digest("SHA-256", enc("")) instanceof Promise`, "true"},
		{`const seen = []; queueMicrotask(() => seen.push("micro")); seen.push("sync"); await null; return seen.join()`, "sync,micro"},
		{`try { queueMicrotask(1) } catch (e) { return e.name }`, "TypeError"},
	}
	for _, tt := range tests {
		got, err := evalAsync(t, tt.code)
		if err != nil {
			t.Errorf("%s: %v", tt.code, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s = %q, want %q", tt.code, got, tt.want)
		}
	}
	// A digest's input is a typed array, so at most MaxStringSize bytes.
	if _, err := evalAsync(t, `return hex(await crypto.subtle.digest("SHA-256", new Uint8Array(1 << 25)))`); err == nil || !strings.Contains(err.Error(), "exceeds the limit") {
		t.Errorf("a 32 MiB digest input: %v", err)
	}
}
