// Data residency: does a target in `country` satisfy the allowed countries and zones?

const EU = new Set(
  ["AT BE BG HR CY CZ DK EE FI FR DE GR HU IE", "IT LV LT LU MT NL PL PT RO SK SI ES SE"]
    .join(" ")
    .split(" "),
);
const EEA = new Set([...EU, "IS", "LI", "NO"]);

const ZONES: Record<string, ReadonlySet<string>> = { EU, EEA };

/** True when `allowed` is empty or names the country itself or a zone that contains it. */
export function residencyAllows(allowed: readonly string[], country: string): boolean {
  if (allowed.length === 0) return true;
  for (const a of allowed) {
    if (a === country || ZONES[a]?.has(country)) return true;
  }
  return false;
}

export const KNOWN_ZONES = Object.keys(ZONES);
