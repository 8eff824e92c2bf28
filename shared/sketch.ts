// A mergeable quantile sketch with relative-error guarantees: DDSketch (Masson, Rim, Lee, VLDB
// 2019) with a logarithmic mapping, a dense bucket store that collapses its lowest buckets, and a
// zero bucket. Latency percentiles per minute, per site, per model come out of it, and minute
// sketches add up to hour sketches without going back to the raw values.
//
// - Bucket k holds the values in (γ^(k−1), γ^k] with γ = (1 + α) / (1 − α); it answers with
//   2γ^k / (γ + 1), within a relative error α of every value in it. Quantiles are clamped to the
//   exact min and max, so q = 0 and q = 1 are exact.
// - Values below `MIN_INDEXABLE` (and 0) land in the zero bucket; negative, infinite or NaN values
//   are refused: latencies and durations are never negative, and a bad value is the caller's bug.
// - Counts are integers, so merging is exact: the sketch of minute sketches merged in any order
//   has the same buckets, count, min and max as the sketch of all their values. `sum` is a float
//   sum and only equal up to rounding.
// - Size is bounded: when the keys span more than `maxBuckets`, the lowest buckets are folded into
//   the lowest kept one (DataDog's CollapsingLowestDenseStore). A count at key k ends up at
//   max(k, highest key − maxBuckets + 1) whatever the order of adds and merges, so collapsed
//   sketches still merge exactly; only low quantiles lose their accuracy guarantee. With the
//   defaults (α 1%, 2048 buckets) the kept range spans a factor γ^2048 ≈ 5·10^17, so real
//   latencies never collapse.
// - `toBytes` / `toBase64Url` give a compact form for a D1 BLOB or TEXT column: a 36–40 byte
//   header, then 2–4 bytes per non-empty bucket (a minute of one site's traffic: ~50–300 bytes).
//   Worst case with the defaults: 40 + 2048 × (3 + 8) ≈ 23 KB, far below D1's 2 MB row limit.
//
// Why not `@datadog/sketches-js`: its serialisation is protobuf, needs `protobufjs/minimal`
// (a devDependency there, so a missing module at runtime; DataDog/sketches-js#26), bundles to
// ~30 KB minified before protobufjs, loses min/max/sum on the way back, and decodes into an
// unbounded store. This file is 6 KB minified (2.5 KB gzipped).

/** Default relative accuracy α: quantiles within 1% of the true value. */
export const DEFAULT_RELATIVE_ACCURACY = 0.01;
/** Default bucket cap, as DataDog's collapsing stores. */
export const DEFAULT_MAX_BUCKETS = 2048;
/** Values below this count in the zero bucket (and read back as 0). */
export const MIN_INDEXABLE = 1e-9;
/** Largest `maxBuckets` accepted, so a decoded header cannot ask for absurd memory. */
const MAX_BUCKETS_LIMIT = 65_536;
/** Keys beyond this are corrupt: ln(Number.MAX_VALUE) / ln(γ) stays below it for α ≥ 1e-4. */
const MAX_ABS_KEY = 4_000_000;
const FORMAT_VERSION = 1;
/** Spare buckets allocated on each side when the store grows. */
const PAD = 32;

/**
 * The key `bucketIndex` gives values in the zero bucket (below `MIN_INDEXABLE`, and 0): below
 * every real key (those stay within ±4·10^6), so it sorts first.
 */
export const ZERO_BUCKET = -(2 ** 31);

/**
 * The bucket key a `QuantileSketch` with relative accuracy `relativeAccuracy` puts `value` in (its
 * `buckets()` keys; `ZERO_BUCKET` for the zero bucket), before any collapsing. The same mapping as
 * `add`, so per-bucket counts kept elsewhere (e.g. SQL rows) rebuild the sketch exactly:
 * `add(bucketValue(k, α), count)` lands in bucket k.
 * @throws RangeError on a negative, infinite or NaN value or α outside [1e-4, 1)
 */
export function bucketIndex(value: number, relativeAccuracy = DEFAULT_RELATIVE_ACCURACY): number {
  if (!(value >= 0 && value < Number.POSITIVE_INFINITY)) {
    throw new RangeError(`sketch values must be finite and ≥ 0, got ${value}`);
  }
  if (value < MIN_INDEXABLE) return ZERO_BUCKET;
  // As in the constructor and `add`: the same float operations give the same key.
  const multiplier = 1 / Math.log(gammaOf(relativeAccuracy));
  return Math.ceil(Math.log(value) * multiplier) | 0;
}

/**
 * The value a sketch answers for bucket `index` (2γ^k / (γ + 1), within α of every value in the
 * bucket; 0 for `ZERO_BUCKET`). `bucketIndex(bucketValue(k, α), α) === k`.
 * @throws RangeError on a non-integer index or α outside [1e-4, 1)
 */
export function bucketValue(index: number, relativeAccuracy = DEFAULT_RELATIVE_ACCURACY): number {
  if (!Number.isInteger(index)) throw new RangeError(`bucket index must be an integer: ${index}`);
  const gamma = gammaOf(relativeAccuracy);
  if (index === ZERO_BUCKET) return 0;
  return Math.exp(index * Math.log(gamma)) * (2 / (1 + gamma));
}

function gammaOf(alpha: number): number {
  if (!(alpha >= 1e-4 && alpha < 1)) throw new RangeError("relativeAccuracy must be in [1e-4, 1)");
  return (1 + alpha) / (1 - alpha);
}

export interface SketchOptions {
  /** α in [1e-4, 1): every quantile is within α × its true value. */
  relativeAccuracy?: number;
  /** Buckets kept before the lowest ones collapse; an integer in [1, 65536]. */
  maxBuckets?: number;
}

/** A mergeable quantile sketch of non-negative values. Mutable: `add` and `merge` change it. */
export class QuantileSketch {
  readonly relativeAccuracy: number;
  readonly maxBuckets: number;
  readonly #lnGamma: number;
  readonly #multiplier: number;
  /** Answer for key k is exp(k · ln γ) × this. */
  readonly #valueFactor: number;
  /** counts[i] holds key offset + i. */
  #counts = new Float64Array(0);
  #offset = 0;
  /** Lowest and highest non-empty key; hi < lo when there are no buckets. */
  #lo = 0;
  #hi = -1;
  #zero = 0;
  #count = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;

  /** @throws RangeError on α outside (0, 1) or a bad bucket cap */
  constructor(options: SketchOptions = {}) {
    const alpha = options.relativeAccuracy ?? DEFAULT_RELATIVE_ACCURACY;
    const maxBuckets = options.maxBuckets ?? DEFAULT_MAX_BUCKETS;
    if (!(alpha >= 1e-4 && alpha < 1)) {
      throw new RangeError("relativeAccuracy must be in [1e-4, 1)");
    }
    if (!(Number.isInteger(maxBuckets) && maxBuckets >= 1 && maxBuckets <= MAX_BUCKETS_LIMIT)) {
      throw new RangeError(`maxBuckets must be an integer in [1, ${MAX_BUCKETS_LIMIT}]`);
    }
    this.relativeAccuracy = alpha;
    this.maxBuckets = maxBuckets;
    const gamma = (1 + alpha) / (1 - alpha);
    this.#lnGamma = Math.log(gamma);
    this.#multiplier = 1 / this.#lnGamma;
    this.#valueFactor = 2 / (1 + gamma);
  }

  /** Values added (including the zero bucket). */
  get count(): number {
    return this.#count;
  }
  /** Sum of the values added; merges add sums, so it is exact only up to float rounding. */
  get sum(): number {
    return this.#sum;
  }
  /** Smallest value added; NaN when empty. */
  get min(): number {
    return this.#count === 0 ? Number.NaN : this.#min;
  }
  /** Largest value added; NaN when empty. */
  get max(): number {
    return this.#count === 0 ? Number.NaN : this.#max;
  }
  /** Values counted in the zero bucket. */
  get zeroCount(): number {
    return this.#zero;
  }

  /**
   * Adds `value` `count` times and returns this sketch.
   * @param value finite and ≥ 0
   * @param count a non-negative integer; 0 changes nothing
   * @throws RangeError on a negative, infinite or NaN value or a bad count
   */
  add(value: number, count = 1): this {
    if (!(value >= 0 && value < Number.POSITIVE_INFINITY)) {
      throw new RangeError(`sketch values must be finite and ≥ 0, got ${value}`);
    }
    if (!(Number.isSafeInteger(count) && count >= 0)) {
      throw new RangeError(`sketch counts must be non-negative integers, got ${count}`);
    }
    if (count === 0) return this;
    if (value < MIN_INDEXABLE) this.#zero += count;
    // `| 0` turns −0 (values just below 1) into 0; keys stay far inside 32 bits.
    else this.#addKey(Math.ceil(Math.log(value) * this.#multiplier) | 0, count);
    this.#count += count;
    this.#sum += value * count;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
    return this;
  }

  /**
   * Adds every value of `other` to this sketch (`other` is not changed) and returns this sketch.
   * @throws RangeError when the two differ in relative accuracy or bucket cap
   */
  merge(other: QuantileSketch): this {
    if (other.relativeAccuracy !== this.relativeAccuracy || other.maxBuckets !== this.maxBuckets) {
      throw new RangeError("cannot merge sketches with different accuracy or bucket cap");
    }
    if (other.#count === 0) return this;
    const counts = other.#counts;
    for (let k = other.#lo; k <= other.#hi; k++) {
      const c = counts[k - other.#offset] ?? 0;
      if (c > 0) this.#addKey(k, c);
    }
    this.#zero += other.#zero;
    this.#count += other.#count;
    this.#sum += other.#sum;
    if (other.#min < this.#min) this.#min = other.#min;
    if (other.#max > this.#max) this.#max = other.#max;
    return this;
  }

  /**
   * The q-quantile: an estimate of the value of rank ⌊q·(count − 1)⌋ (0-based) in sorted order,
   * within `relativeAccuracy` of it unless its bucket collapsed. NaN when empty.
   * @throws RangeError when q is outside [0, 1]
   */
  quantile(q: number): number {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${q}`);
    if (this.#count === 0) return Number.NaN;
    const rank = q * (this.#count - 1);
    // The first and last ranks are the exact min and max.
    if (rank < 1) return this.#min;
    if (rank >= this.#count - 1) return this.#max;
    if (rank < this.#zero) return 0;
    let seen = this.#zero;
    for (let k = this.#lo; k <= this.#hi; k++) {
      seen += this.#counts[k - this.#offset] ?? 0;
      if (seen > rank) {
        const v = Math.exp(k * this.#lnGamma) * this.#valueFactor;
        return Math.min(this.#max, Math.max(this.#min, v));
      }
    }
    return this.#max;
  }

  /** Non-empty buckets, lowest key first: bucket k holds values in (γ^(k−1), γ^k]. */
  buckets(): { key: number; count: number }[] {
    const out: { key: number; count: number }[] = [];
    for (let k = this.#lo; k <= this.#hi; k++) {
      const c = this.#counts[k - this.#offset] ?? 0;
      if (c > 0) out.push({ key: k, count: c });
    }
    return out;
  }

  /** An independent copy. */
  clone(): QuantileSketch {
    const copy = new QuantileSketch(this);
    copy.#counts = this.#counts.slice();
    copy.#offset = this.#offset;
    copy.#lo = this.#lo;
    copy.#hi = this.#hi;
    copy.#zero = this.#zero;
    copy.#count = this.#count;
    copy.#sum = this.#sum;
    copy.#min = this.#min;
    copy.#max = this.#max;
    return copy;
  }

  /**
   * Compact binary form, little-endian: version byte, α (f64), maxBuckets (varint), zero count
   * (varint), sum, min, max (f64), number of non-empty buckets (varint), then the first key
   * (zigzag varint) and its count, and for each further bucket the gap to the previous key and
   * its count (varints). The total count is the sum of the bucket counts.
   */
  toBytes(): Uint8Array {
    const w = new ByteWriter();
    w.byte(FORMAT_VERSION);
    w.f64(this.relativeAccuracy);
    w.varint(this.maxBuckets);
    w.varint(this.#zero);
    w.f64(this.#sum);
    w.f64(this.#min);
    w.f64(this.#max);
    const buckets = this.buckets();
    w.varint(buckets.length);
    let prev = 0;
    for (const [i, b] of buckets.entries()) {
      w.varint(i === 0 ? zigzag(b.key) : b.key - prev);
      w.varint(b.count);
      prev = b.key;
    }
    return w.bytes();
  }

  /** `toBytes` as unpadded base64url, for a TEXT column or JSON. */
  toBase64Url(): string {
    return toBase64Url(this.toBytes());
  }

  /**
   * Reads `toBytes` output back, checking every field.
   * @throws RangeError on anything malformed
   */
  static fromBytes(bytes: Uint8Array): QuantileSketch {
    const r = new ByteReader(bytes);
    const version = r.byte();
    if (version !== FORMAT_VERSION) throw malformed(`unknown version ${version}`);
    const s = new QuantileSketch({ relativeAccuracy: r.f64(), maxBuckets: r.varint() });
    const zero = r.varint();
    const sum = r.f64();
    const min = r.f64();
    const max = r.f64();
    const n = r.varint();
    if (n > s.maxBuckets) throw malformed("more buckets than the cap");
    let count = zero;
    let key = 0;
    let lo = 0;
    for (let i = 0; i < n; i++) {
      key = i === 0 ? unzigzag(r.varint()) : key + r.varint();
      if (i > 0 && key === s.#hi) throw malformed("bucket keys must increase");
      if (i === 0) lo = key;
      if (Math.abs(key) > MAX_ABS_KEY || key - lo >= s.maxBuckets) {
        throw malformed("bucket key out of range");
      }
      const c = r.varint();
      if (c === 0) throw malformed("empty bucket");
      s.#addKey(key, c);
      count += c;
    }
    r.end();
    if (!Number.isSafeInteger(count)) throw malformed("count too large");
    const empty = count === 0;
    if (empty ? sum !== 0 || min !== Infinity || max !== -Infinity : !(0 <= min && min <= max)) {
      throw malformed("inconsistent sum, min or max");
    }
    if (!empty && !(Number.isFinite(max) && sum >= 0 && Number.isFinite(sum))) {
      throw malformed("inconsistent sum, min or max");
    }
    s.#zero = zero;
    s.#count = count;
    s.#sum = sum;
    s.#min = min;
    s.#max = max;
    return s;
  }

  /** @throws RangeError on anything malformed */
  static fromBase64Url(text: string): QuantileSketch {
    return QuantileSketch.fromBytes(fromBase64Url(text));
  }

  /** Counts `n` at `key`, folding the lowest buckets when the span would exceed the cap. */
  #addKey(key: number, n: number): void {
    if (this.#hi < this.#lo) {
      this.#reserve(key, key);
      this.#lo = key;
      this.#hi = key;
    } else {
      const hi = Math.max(key, this.#hi);
      const floor = hi - this.maxBuckets + 1;
      if (key < floor) key = floor;
      if (this.#lo < floor) this.#collapseBelow(floor);
      const lo = Math.min(key, this.#lo);
      this.#reserve(lo, hi);
      this.#lo = lo;
      this.#hi = hi;
    }
    const i = key - this.#offset;
    this.#counts[i] = (this.#counts[i] ?? 0) + n;
  }

  /** Moves every count below `floor` into bucket `floor`. */
  #collapseBelow(floor: number): void {
    let folded = 0;
    const end = Math.min(this.#hi, floor - 1);
    for (let k = this.#lo; k <= end; k++) {
      const i = k - this.#offset;
      folded += this.#counts[i] ?? 0;
      this.#counts[i] = 0;
    }
    const hi = Math.max(this.#hi, floor);
    this.#reserve(floor, hi);
    const i = floor - this.#offset;
    this.#counts[i] = (this.#counts[i] ?? 0) + folded;
    this.#lo = floor;
    this.#hi = hi;
  }

  /** Makes room for keys lo…hi; counts outside lo…hi must already be zero. */
  #reserve(lo: number, hi: number): void {
    const offset = this.#offset;
    const old = this.#counts;
    if (lo >= offset && hi < offset + old.length) return;
    const nextOffset = lo - PAD;
    const next = new Float64Array(hi - lo + 1 + 2 * PAD);
    const from = Math.max(offset, nextOffset);
    const to = Math.min(offset + old.length, nextOffset + next.length);
    if (to > from) next.set(old.subarray(from - offset, to - offset), from - nextOffset);
    this.#counts = next;
    this.#offset = nextOffset;
  }
}

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/** Character code → 6-bit value, −1 for characters outside base64url. */
const B64URL_VALUE = (() => {
  const table = new Int8Array(128).fill(-1);
  for (let i = 0; i < B64URL.length; i++) table[B64URL.charCodeAt(i)] = i;
  return table;
})();

/** Bytes as unpadded base64url (RFC 4648 §5). */
export function toBase64Url(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out +=
      B64URL.charAt(n >> 18) +
      B64URL.charAt((n >> 12) & 63) +
      B64URL.charAt((n >> 6) & 63) +
      B64URL.charAt(n & 63);
  }
  const rest = bytes.length - i;
  if (rest > 0) {
    const n = ((bytes[i] ?? 0) << 16) | (rest === 2 ? (bytes[i + 1] ?? 0) << 8 : 0);
    out += B64URL.charAt(n >> 18) + B64URL.charAt((n >> 12) & 63);
    if (rest === 2) out += B64URL.charAt((n >> 6) & 63);
  }
  return out;
}

/**
 * Unpadded base64url back to bytes.
 * @throws RangeError on any other character, an impossible length or non-zero trailing bits
 */
export function fromBase64Url(text: string): Uint8Array {
  const rest = text.length % 4;
  if (rest === 1) throw malformed("not base64url");
  const out = new Uint8Array(Math.floor(text.length / 4) * 3 + (rest === 0 ? 0 : rest - 1));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const v = B64URL_VALUE[text.charCodeAt(i)] ?? -1;
    if (v < 0) throw malformed("not base64url");
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  // Canonical form only: the bits left over after the last byte must be zero.
  if ((acc & ((1 << bits) - 1)) !== 0) throw malformed("not base64url");
  return out;
}

function malformed(why: string): RangeError {
  return new RangeError(`malformed sketch: ${why}`);
}

function zigzag(n: number): number {
  return n >= 0 ? 2 * n : -2 * n - 1;
}

function unzigzag(n: number): number {
  return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
}

class ByteWriter {
  #buf = new Uint8Array(64);
  #view = new DataView(this.#buf.buffer);
  #len = 0;

  byte(b: number): void {
    this.#room(1);
    this.#buf[this.#len++] = b;
  }

  /** Unsigned LEB128 of a non-negative safe integer (arithmetic, not 32-bit shifts). */
  varint(n: number): void {
    this.#room(8);
    let v = n;
    while (v >= 0x80) {
      this.#buf[this.#len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.#buf[this.#len++] = v;
  }

  f64(x: number): void {
    this.#room(8);
    this.#view.setFloat64(this.#len, x, true);
    this.#len += 8;
  }

  bytes(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n));
    next.set(this.#buf);
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
}

class ByteReader {
  readonly #buf: Uint8Array;
  readonly #view: DataView;
  #pos = 0;

  constructor(buf: Uint8Array) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  byte(): number {
    const b = this.#buf[this.#pos];
    if (b === undefined) throw malformed("truncated");
    this.#pos++;
    return b;
  }

  varint(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.byte();
      n += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(n)) break;
        return n;
      }
      scale *= 0x80;
    }
    throw malformed("varint too long");
  }

  f64(): number {
    if (this.#pos + 8 > this.#buf.length) throw malformed("truncated");
    const x = this.#view.getFloat64(this.#pos, true);
    this.#pos += 8;
    return x;
  }

  end(): void {
    if (this.#pos !== this.#buf.length) throw malformed("trailing bytes");
  }
}
