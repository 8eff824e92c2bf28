// Fails early, with a clear message, when npm scripts do not run on the Node 22 that the `node`
// devDependency provides (e.g. `npm ci --ignore-scripts`, or install scripts not approved).
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(
    `mec-router's tools need Node >= 22.12, but this is Node ${process.versions.node}.\n` +
      "Run `npm ci` (with install scripts enabled) so the `node` devDependency installs Node 22,\n" +
      "then use `npm start` / `npm test`, which put it first on PATH.",
  );
  process.exit(1);
}
