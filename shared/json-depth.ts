// How deeply a JSON text nests, found by one pass over the text before anything parses it: a
// body of a few megabytes can nest millions of levels, and code that walks parsed values
// recursively (serialising, schema checks) would then run out of stack.

/**
 * Whether the JSON text nests arrays and objects deeper than `max` levels (`[]` is 1, `[[]]`
 * is 2). Brackets inside strings do not count. The text need not be valid JSON: this only bounds
 * what a parser would have to build.
 */
export function jsonDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c /* \ */) i++;
      else if (ch === 0x22 /* " */) inString = false;
    } else if (ch === 0x22) {
      inString = true;
    } else if (ch === 0x5b /* [ */ || ch === 0x7b /* { */) {
      if (++depth > max) return true;
    } else if (ch === 0x5d /* ] */ || ch === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}
