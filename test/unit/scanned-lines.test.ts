import { describe, expect, it } from "vitest";
import { captureLog, quietLog } from "../helpers/log.ts";
import { recordedLines } from "../helpers/scanned-lines.ts";

describe("the lines the secret scan reads", () => {
  it("include what a silenced logger swallowed, and what a capturing logger kept", () => {
    quietLog().warn("quiet-marker-1");
    quietLog().error("quiet-marker-2");
    captureLog().warn("captured-marker");
    expect(recordedLines()).toEqual(expect.arrayContaining(["quiet-marker-1", "quiet-marker-2", "captured-marker"]));
  });

  it("include the console's lines", () => {
    console.info("console-marker", { n: 1 });
    expect(recordedLines()).toContain('console-marker {"n":1}');
  });
});
