/**
 * Unit tests of the HTTP/1.1 framing parser: heads, Content-Length,
 * chunked bodies across every split, trailers, malformed input, and the
 * responses that have no body.
 *
 * @module
 */

import {
  BodyFramer,
  type BodyKind,
  findHeadEnd,
  MalformedMessageError,
  parseFieldLines,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  responseBodyKind,
} from "../../src/front/http1.ts";

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function assertEquals<T>(actual: T, expected: T, message = ""): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message}\nExpected: ${e}\nActual:   ${a}`);
}

function assertThrowsMalformed(fn: () => unknown, message: string): void {
  try {
    fn();
  } catch (error) {
    if (error instanceof MalformedMessageError) return;
    throw error;
  }
  throw new Error(`Expected a MalformedMessageError: ${message}`);
}

function request(text: string): RequestHead {
  const buf = bytes(text);
  const end = findHeadEnd(buf, 0, buf.length);
  if (end === -1) throw new Error(`No head end in ${JSON.stringify(text)}`);
  return parseRequestHead(buf, 0, end);
}

/** Feeds `text` to a framer in pieces of `step` bytes; returns the bytes taken. */
function frame(kind: BodyKind, length: number, text: string, step: number): number {
  const buf = bytes(text);
  const framer = new BodyFramer();
  framer.reset(kind, length);
  let taken = 0;
  for (let offered = 0; offered < buf.length && !framer.done;) {
    offered = Math.min(buf.length, offered + step);
    taken += framer.take(buf, taken, offered);
  }
  if (!framer.done) throw new Error("Body did not end");
  return taken;
}

Deno.test("findHeadEnd() finds CRLF CRLF, bare LF LF and mixed endings", () => {
  assertEquals(findHeadEnd(bytes("GET / HTTP/1.1\r\nA: b\r\n\r\nrest"), 0, 26), 24);
  assertEquals(findHeadEnd(bytes("GET / HTTP/1.1\nA: b\n\nrest"), 0, 25), 21);
  assertEquals(findHeadEnd(bytes("GET / HTTP/1.1\r\nA: b\n\r\nx"), 0, 24), 23);
});

Deno.test("findHeadEnd() waits for a terminator that has not fully arrived", () => {
  const buf = bytes("GET / HTTP/1.1\r\n\r\n");
  for (let end = 0; end < buf.length; end++) {
    assertEquals(findHeadEnd(buf, 0, end), -1, `end ${end}`);
  }
  assertEquals(findHeadEnd(buf, 0, buf.length), buf.length);
  // Resuming two bytes before the previous end still finds a split terminator.
  assertEquals(findHeadEnd(buf, 15, buf.length), buf.length);
});

Deno.test("findHeadEnd() ignores stale bytes after the end", () => {
  const buf = bytes("GET / HTTP/1.1\r\n\r\n");
  assertEquals(findHeadEnd(buf, 0, 17), -1);
});

Deno.test("parseRequestHead() reads method, target, version and framing fields", () => {
  const head = request(
    "POST /a?b=1 HTTP/1.1\r\nHost: x\r\ncontent-LENGTH:  12 \r\nExpect: 100-Continue\r\n\r\n",
  );
  assertEquals(head, {
    method: "POST",
    target: "/a?b=1",
    http11: true,
    bodyKind: "length",
    contentLength: 12,
    close: false,
    upgrade: false,
    expectContinue: true,
    host: "x",
    accept: null,
    fetchDest: null,
  });
});

Deno.test("parseRequestHead() reads Host, Accept and Sec-Fetch-Dest as Headers.get would", () => {
  const head = request(
    "GET / HTTP/1.1\r\nhost:  localhost:8000 \r\nACCEPT: text/html,*/*\r\n" +
      "Sec-Fetch-Dest:\tdocument\r\n\r\n",
  );
  assertEquals([head.host, head.accept, head.fetchDest], [
    "localhost:8000",
    "text/html,*/*",
    "document",
  ]);
  const none = request("GET / HTTP/1.1\r\n\r\n");
  assertEquals([none.host, none.accept, none.fetchDest], [null, null, null]);
  assertEquals(request("GET / HTTP/1.1\r\nHost:\r\n\r\n").host, "");
  const repeated = request(
    "GET / HTTP/1.1\r\nAccept: text/html\r\nSec-Fetch-Dest: image\r\nAccept: */*\r\n" +
      "sec-fetch-dest: document\r\n\r\n",
  );
  assertEquals([repeated.accept, repeated.fetchDest], ["text/html, */*", "image, document"]);
});

Deno.test("parseRequestHead() refuses a second Host field (RFC 9112 §3.2)", () => {
  assertThrowsMalformed(
    () => request("GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n"),
    "two Host fields",
  );
});

Deno.test("parseFieldLines() reads the first line and every field as sent", () => {
  const buf = bytes("HTTP/1.1 200 Fine\r\nContent-Type: text/html\r\nX-A:1\r\nx-a: 2 \r\n\r\nBODY");
  const { firstLine, fields } = parseFieldLines(buf, 0, findHeadEnd(buf, 0, buf.length));
  assertEquals(firstLine, "HTTP/1.1 200 Fine");
  assertEquals(fields, [["Content-Type", "text/html"], ["X-A", "1"], ["x-a", "2"]]);
});

Deno.test("BodyFramer.take() reports the content of a chunked body without its framing", () => {
  const buf = bytes("3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\nNEXT");
  const framer = new BodyFramer();
  framer.reset("chunked", 0);
  let content = "";
  let taken = 0;
  // One byte at a time: content split anywhere is still reported whole.
  while (!framer.done) {
    taken += framer.take(buf, taken, taken + 1, (from, to) => {
      content += new TextDecoder().decode(buf.subarray(from, to));
    });
  }
  assertEquals([content, taken], ["abcde", buf.length - 4]);
  framer.reset("length", 3);
  const spans: [number, number][] = [];
  assertEquals(framer.take(buf, 2, buf.length, (from, to) => spans.push([from, to])), 3);
  assertEquals(spans, [[2, 5]]);
});

Deno.test("parseRequestHead() understands chunked, Connection and Upgrade", () => {
  const chunked = request("PUT /u HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
  assertEquals([chunked.bodyKind, chunked.contentLength], ["chunked", 0]);
  const ws = request(
    "GET /ws HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
  );
  assertEquals([ws.upgrade, ws.close, ws.bodyKind], [true, false, "none"]);
  assertEquals(request("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").close, true);
});

Deno.test("parseRequestHead() applies HTTP/1.0 persistence rules", () => {
  assertEquals(request("GET / HTTP/1.0\r\n\r\n").close, true);
  assertEquals(request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").close, false);
  assertEquals(request("GET / HTTP/1.0\r\n\r\n").http11, false);
});

Deno.test("parseRequestHead() treats Content-Length 0 and no framing as no body", () => {
  assertEquals(request("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").bodyKind, "none");
  assertEquals(request("POST / HTTP/1.1\r\n\r\n").bodyKind, "none");
  const same = request("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n");
  assertEquals(same.contentLength, 3);
});

Deno.test("parseRequestHead() decodes unusual methods and long targets", () => {
  assertEquals(request("PROPFIND /dav HTTP/1.1\r\n\r\n").method, "PROPFIND");
  const target = "/" + "x".repeat(10_000);
  assertEquals(request(`GET ${target} HTTP/1.1\r\n\r\n`).target, target);
});

Deno.test("parseRequestHead() refuses malformed heads", () => {
  const cases: Record<string, string> = {
    "no method": " / HTTP/1.1\r\n\r\n",
    "two spaces": "GET  / HTTP/1.1\r\n\r\n",
    "no version": "GET /\r\n\r\n",
    "bad version": "GET / HTTP/2.0\r\n\r\n",
    "lower-case version": "GET / http/1.1\r\n\r\n",
    "garbage": "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    "space before colon": "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    "no colon": "GET / HTTP/1.1\r\nHost\r\n\r\n",
    "folded line": "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
    "control in value": "GET / HTTP/1.1\r\nA: b\x00c\r\n\r\n",
    "bare CR": "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
    "signed length": "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
    "listed length": "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n",
    "empty length": "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
    "huge length": "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
    "conflicting lengths": "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    "CL and TE": "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    "TE not chunked last": "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    "TE in HTTP/1.0": "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
  };
  for (const [name, text] of Object.entries(cases)) {
    assertThrowsMalformed(() => request(text), name);
  }
});

Deno.test("parseResponseHead() reads status, length, chunked and close", () => {
  const ok = bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
  const head = parseResponseHead(ok, 0, ok.length);
  assertEquals([head.status, head.contentLength, head.chunked, head.close], [200, 5, false, false]);
  const chunked = bytes(
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nConnection: close\r\n\r\n",
  );
  const second = parseResponseHead(chunked, 0, chunked.length);
  assertEquals([second.chunked, second.close, second.contentLength], [true, true, -1]);
  const old = bytes("HTTP/1.0 200 OK\r\n\r\n");
  assertEquals(parseResponseHead(old, 0, old.length).close, true);
});

Deno.test("parseResponseHead() accepts a status-line without a reason", () => {
  for (const text of ["HTTP/1.1 204\r\n\r\n", "HTTP/1.1 204 \r\n\r\n"]) {
    const buf = bytes(text);
    assertEquals(parseResponseHead(buf, 0, buf.length).status, 204);
  }
});

Deno.test("parseResponseHead() refuses malformed status-lines", () => {
  for (const text of ["HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "ICY 200 OK\r\n\r\n"]) {
    const buf = bytes(text);
    assertThrowsMalformed(() => parseResponseHead(buf, 0, buf.length), text);
  }
});

Deno.test("responseBodyKind() follows RFC 9112 section 6.3", () => {
  const parse = (text: string) => {
    const buf = bytes(text);
    return parseResponseHead(buf, 0, buf.length);
  };
  const withLength = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
  assertEquals(responseBodyKind(withLength, "GET"), "length");
  assertEquals(responseBodyKind(withLength, "HEAD"), "none");
  for (const status of [100, 101, 103, 204, 304]) {
    assertEquals(
      responseBodyKind(parse(`HTTP/1.1 ${status} X\r\n\r\n`), "GET"),
      "none",
      `${status}`,
    );
  }
  assertEquals(responseBodyKind(parse("HTTP/1.1 200 OK\r\n\r\n"), "GET"), "close");
  assertEquals(responseBodyKind(parse("HTTP/1.1 200 OK\r\n\r\n"), "CONNECT"), "none");
  const chunked = parse(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
  );
  assertEquals(responseBodyKind(chunked, "GET"), "chunked");
  assertEquals(chunked.close, true);
  assertEquals(
    responseBodyKind(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), "GET"),
    "close",
  );
});

Deno.test("BodyFramer takes exactly Content-Length bytes, in any pieces", () => {
  for (const step of [1, 2, 7, 100]) {
    assertEquals(frame("length", 10, "0123456789NEXT REQUEST", step), 10, `step ${step}`);
  }
});

Deno.test("BodyFramer finds the end of a chunked body at every split", () => {
  const body = "4\r\nWiki\r\n5;name=value\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n";
  const text = body + "GET /next HTTP/1.1\r\n\r\n";
  for (let step = 1; step <= text.length; step++) {
    assertEquals(frame("chunked", 0, text, step), body.length, `step ${step}`);
  }
});

Deno.test("BodyFramer passes trailers through to the end of the body", () => {
  const body = "3\r\nabc\r\n0\r\nExpires: never\r\nX-Sum: 42\r\n\r\n";
  for (const step of [1, 3, 1000]) {
    assertEquals(frame("chunked", 0, body + "NEXT", step), body.length, `step ${step}`);
  }
});

Deno.test("BodyFramer accepts upper- and lower-case hex sizes", () => {
  const body = "a\r\n0123456789\r\nA\r\n0123456789\r\n00\r\n\r\n";
  assertEquals(frame("chunked", 0, body, 1), body.length);
});

Deno.test("BodyFramer refuses broken chunked framing", () => {
  const cases: Record<string, string> = {
    "no size": "\r\nabc\r\n0\r\n\r\n",
    "bad size": "zz\r\nabc\r\n0\r\n\r\n",
    "negative size": "-3\r\nabc\r\n0\r\n\r\n",
    "data too long": "3\r\nabcd\r\n0\r\n\r\n",
    "bare LF after size": "3\nabc\r\n0\r\n\r\n",
    "bare LF after data": "3\r\nabc\n0\r\n\r\n",
    "huge size": "fffffffffffffffff\r\n",
    "bare LF at end": "0\r\n\n",
  };
  for (const [name, text] of Object.entries(cases)) {
    for (const step of [1, 1000]) {
      assertThrowsMalformed(() => frame("chunked", 0, text, step), `${name}, step ${step}`);
    }
  }
});

Deno.test("BodyFramer takes nothing for no body and everything for a close-delimited one", () => {
  const buf = bytes("whatever");
  const framer = new BodyFramer();
  framer.reset("none", 0);
  assertEquals([framer.done, framer.take(buf, 0, buf.length)], [true, 0]);
  framer.reset("close", 0);
  assertEquals([framer.take(buf, 0, buf.length), framer.done], [buf.length, false]);
});

Deno.test("BodyFramer can be reused after a body ends", () => {
  const framer = new BodyFramer();
  framer.reset("chunked", 0);
  const first = bytes("1\r\na\r\n0\r\n\r\n");
  assertEquals(framer.take(first, 0, first.length), first.length);
  framer.reset("length", 3);
  assertEquals([framer.done, framer.take(bytes("abcd"), 0, 4), framer.done], [false, 3, true]);
});
