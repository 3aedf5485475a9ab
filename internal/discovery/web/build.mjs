// Builds the web UI into dist/: one bundled, minified app.js and app.css,
// and index.html naming them with a content hash (?v=…), so a browser never
// runs a stale bundle after an upgrade. The output depends only on the
// sources and the packages pinned in package-lock.json: building twice
// gives the same bytes, which the freshness check (build.sh --check) needs.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";

const outdir = "dist";

async function bundle() {
  const result = await build({
    entryPoints: { app: "src/main.ts" },
    bundle: true,
    minify: true,
    format: "iife",
    target: ["chrome110", "firefox110", "safari16"],
    outdir,
    write: false,
    legalComments: "eof",
    charset: "utf8",
    logLevel: "warning",
  });
  return result.outputFiles;
}

function shortHash(bytes) {
  return createHash("sha256").update(bytes).digest("hex").slice(0, 12);
}

async function main() {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const files = await bundle();
  const js = files.find((f) => f.path.endsWith(".js"));
  const css = await readFile("src/styles.css");
  await writeFile(`${outdir}/app.js`, js.contents);
  await writeFile(`${outdir}/app.css`, css);
  const html = (await readFile("src/index.html", "utf8"))
    .replace("{{APP_JS}}", `app.js?v=${shortHash(js.contents)}`)
    .replace("{{APP_CSS}}", `app.css?v=${shortHash(css)}`);
  await writeFile(`${outdir}/index.html`, html);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
