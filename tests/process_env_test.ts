// --env-file and -e NAME resolution (no processes).
import { assertEquals, assertThrows } from "./assert.ts";
import { InvalidArgument } from "../lib/host/errors.ts";
import { checkEnvValues, parseEnvFile, resolveEnv } from "../lib/options/process_env.ts";

const env = (k: string) => ({ HOME: "/home/me", EMPTY: "" } as Record<string, string>)[k];

Deno.test("env files: K=V lines, comments and blanks skipped, a bare NAME from berth's environment", () => {
  assertEquals(
    parseEnvFile(
      "# c\nA=1\r\n\n   # indented comment\nB= spaced =\nHOME\nNOT_SET\nEMPTY\n",
      "f",
      env,
    ),
    ["A=1", "B= spaced =", "HOME=/home/me", "EMPTY="],
  );
  assertThrows(() => parseEnvFile("A=1\n=2\n", "f", env), InvalidArgument, "f:2:");
  assertThrows(() => parseEnvFile("not a name\n", "f", env), InvalidArgument);
});

Deno.test("files first, -e after; an unset -e NAME is left out", async () => {
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(file, "A=file\nB=file\n");
    assertEquals(resolveEnv([file], ["B=flag", "HOME", "UNSET"], env), [
      "A=file",
      "B=file",
      "B=flag",
      "HOME=/home/me",
    ]);
    assertThrows(() => resolveEnv(["/no/such"], [], env), InvalidArgument, "cannot read");
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("-e syntax is checked at parse time", () => {
  checkEnvValues(["A=1", "NAME", "x.y=2"]);
  for (const bad of ["=1", "1A", "a b", ""]) {
    assertThrows(() => checkEnvValues([bad]), InvalidArgument);
  }
});
