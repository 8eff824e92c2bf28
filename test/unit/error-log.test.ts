import { describe, expect, it } from "vitest";
import { errorLogFields } from "../../worker/errors.ts";

const CANARY = "canary-7f3a9c";

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (err) {
    if (err instanceof Error) return err;
  }
  throw new Error("did not throw");
}

describe("errorLogFields", () => {
  it("keeps the kind of error and where, never its message past the first quote", () => {
    const cases = [
      thrown(() => JSON.parse(`{"prompt": ${CANARY}}`)),
      thrown(() => JSON.parse(`"${CANARY}`)),
      new TypeError(`Cannot read properties of undefined (reading '${CANARY}')`),
      new Error(`bad value \`${CANARY}\` and "${CANARY} \\" ${CANARY}"`),
    ];
    for (const err of cases) {
      const fields = errorLogFields(err);
      expect(JSON.stringify(fields)).not.toContain(CANARY);
      expect(fields.name).toBe(err.name);
      expect(fields.at).toMatch(/^at /);
    }
    expect(
      errorLogFields(new TypeError("Cannot read properties of undefined (reading 'x')")),
    ).toMatchObject({
      message: "Cannot read properties of undefined (reading …",
    });
  });
});
