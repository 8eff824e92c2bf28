// Types of offline-env.mjs for TypeScript importers (benchmarks).
export function offlineEnv(extra?: Record<string, string>): NodeJS.ProcessEnv;
