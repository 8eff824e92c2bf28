// Admission by criticality at a MEC site (shared/admission.ts).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { admissionLimit, CRITICAL_HEADROOM } from "../../shared/admission.ts";

describe("admission headroom", () => {
  it("lets critical work fill every slot and keeps at least one (about 10 %) from the rest", () => {
    expect(admissionLimit({ maxConcurrent: 16, maxQueue: 32 }, "critical")).toBe(48);
    expect(admissionLimit({ maxConcurrent: 16, maxQueue: 32 }, "standard")).toBe(43);
    expect(admissionLimit({ maxConcurrent: 16, maxQueue: 32 }, "sheddable")).toBe(43);
    expect(admissionLimit({ maxConcurrent: 4, maxQueue: 0 }, "standard")).toBe(3);
    expect(admissionLimit({ maxConcurrent: 1, maxQueue: 0 }, "standard")).toBe(1);
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 10_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        (c, q) => {
          const slots = c + q;
          const kept = slots - admissionLimit({ maxConcurrent: c, maxQueue: q }, "standard");
          return kept >= 1 && kept === Math.max(1, Math.ceil(slots * CRITICAL_HEADROOM));
        },
      ),
    );
  });
});
