import { assertEquals, assertRejects, assertThrows, assertTrue } from "./assert.ts";
import { InvalidArgument, NotFound } from "../lib/host/errors.ts";
import {
  hostnameOf,
  isValidId,
  resolveId,
  validateId,
  validateNamespace,
} from "../lib/container/id.ts";

Deno.test("valid IDs are accepted", () => {
  for (const id of ["a", "web1", "Web-1", "a.b_c-d", "x".repeat(76), "0", "a1.2.3"]) {
    assertEquals(validateId(id), id);
    assertEquals(isValidId(id), true);
  }
});

Deno.test("invalid IDs are rejected before any path is built", () => {
  const bad = [
    "",
    "../x",
    "a/b",
    ".x",
    "-x",
    "x-",
    "a b",
    "a..b",
    "a--b",
    "wéb",
    "ä",
    "x".repeat(77),
    "a\nb",
    "/abs",
    "..",
    ".",
  ];
  for (const id of bad) {
    assertEquals(isValidId(id), false, id);
    assertThrows(() => validateId(id), InvalidArgument);
  }
});

Deno.test("namespaces follow the ID rules and name themselves in errors", () => {
  assertEquals(validateNamespace("tenant-a"), "tenant-a");
  assertThrows(() => validateNamespace("../etc"), InvalidArgument, "invalid namespace");
});

const ids = ["web1", "web10", "web2", "db"];
const exists = (id: string) => Promise.resolve(ids.includes(id));
let listCalls = 0;
const list = () => {
  listCalls++;
  return Promise.resolve([...ids]);
};

Deno.test("an exact ID wins over longer IDs it is a prefix of, without listing", async () => {
  listCalls = 0;
  assertEquals(await resolveId("web1", exists, list), "web1");
  assertEquals(listCalls, 0);
});

Deno.test("a unique prefix resolves to its ID", async () => {
  assertEquals(await resolveId("d", exists, list), "db");
  assertEquals(await resolveId("web2", exists, list), "web2");
});

Deno.test("an ambiguous prefix is an InvalidArgument naming the candidates", async () => {
  const err = await assertRejects(() => resolveId("we", exists, list), InvalidArgument);
  assertEquals(err.message, `"we" is ambiguous: it matches web1, web10, web2`);
});

Deno.test("a prefix ending in a separator is allowed", async () => {
  const l = () => Promise.resolve(["web-1"]);
  assertEquals(await resolveId("web-", (id) => Promise.resolve(id === "web-1"), l), "web-1");
});

Deno.test("listed names without a container (leftovers) are no candidates", async () => {
  const listed = () => Promise.resolve(["app1", "app2-leftover"]);
  const has = (id: string) => Promise.resolve(id === "app1");
  assertEquals(await resolveId("app", has, listed), "app1");
  await assertRejects(() => resolveId("app2", has, listed), NotFound);
});

Deno.test("no match is NotFound; a malformed reference is InvalidArgument", async () => {
  await assertRejects(() => resolveId("zz", exists, list), NotFound);
  await assertRejects(() => resolveId("../x", exists, list), InvalidArgument);
  await assertRejects(() => resolveId("", exists, list), InvalidArgument);
});

Deno.test("long IDs get distinct 64-character hostnames", () => {
  assertEquals(hostnameOf("web1"), "web1");
  assertEquals(hostnameOf("a".repeat(64)), "a".repeat(64));
  const a = hostnameOf("x".repeat(60) + "-one-of-them");
  const b = hostnameOf("x".repeat(60) + "-another-one");
  assertEquals([a.length, b.length], [64, 64]);
  assertTrue(a !== b && a.startsWith("x".repeat(55) + "-"));
});
