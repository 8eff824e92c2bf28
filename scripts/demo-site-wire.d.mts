// Types of the parts of demo-site-wire.mjs that TypeScript importers use.

/** Uniform in [0, 1), deterministic per seed. */
export function mulberry32(seed: number): () => number;
