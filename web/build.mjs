// Builds one UI: node build.mjs <ui> <out-dir>
// <ui> is a folder of web/ with an index.html; the result is a static bundle
// (hashed file names) that CMake embeds into the millrace binary.
import { fileURLToPath } from "node:url";
import path from "node:path";

const [ui, outDir] = process.argv.slice(2);
if (!ui || !outDir) {
  console.error("usage: node build.mjs <ui> <out-dir>");
  process.exit(2);
}
let build;
try {
  ({ build } = await import("vite"));
} catch {
  console.error("web/build.mjs: vite is not installed in web/node_modules: run scripts/setup");
  process.exit(1);
}
const here = path.dirname(fileURLToPath(import.meta.url));
await build({
  root: path.join(here, ui),
  base: "/",
  logLevel: "warn",
  build: { outDir: path.resolve(outDir), emptyOutDir: true, assetsDir: "assets", sourcemap: false, target: "es2022" },
  resolve: { alias: { "@shared": path.join(here, "shared") } },
});
