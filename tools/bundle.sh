#!/bin/sh
# deno task bundle [OUTDIR]    (default: dist/bundle)
#
# The exporter as plain JavaScript for `deno run --no-config`: OUTDIR/main.js and the chunks it imports,
# with no node_modules, lock or Deno cache needed to run it. Used by `deno task install`, `deno task image`
# and `deno task compile`. What each choice saves, measured (BENCHMARKS.md "Memory: the shipped bundle"):
# - --code-splitting: what main.ts imports only when needed (each schema generation's code, js-yaml and
#   bcryptjs for --web.config.file) stays in chunks of its own, loaded when needed, as it is from main.ts.
#   In one file, bcryptjs's `import "crypto"` would load Deno's Node crypto layer at every start.
# - --minify: no comments or whitespace in the source V8 keeps in memory for the process's life;
#   --keep-names: function and class names stay, so a stack trace still names them.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd -P)
deno=${DENO:-deno}
out=${1:-dist/bundle}
case "$out" in
  /*) ;;
  *) out="${INIT_CWD:-$(pwd -P)}/$out" ;; # deno task runs in the repository; INIT_CWD is where it was typed
esac
# The chunks' names carry a hash of their content: an earlier bundle's would stay beside the new one.
# Only a directory that holds nothing but a bundle (its main.js, chunks and Deno cache) is emptied.
if [ -d "$out" ] && [ -n "$(ls -A "$out")" ]; then
  [ -f "$out/main.js" ] || {
    echo "deno task bundle: $out is not empty and holds no bundle (main.js): choose an empty or new directory" >&2
    exit 2
  }
  for f in "$out"/* "$out"/.[!.]*; do
    [ -e "$f" ] || continue
    case "$f" in
      *.js | "$out/deno-dir") ;;
      *)
        echo "deno task bundle: $out holds $f, which is not a bundle's: choose an empty or new directory" >&2
        exit 2
        ;;
    esac
  done
  rm -rf "$out"/*.js "$out/deno-dir"
fi
cd "$here"
"$deno" bundle --quiet --minify --keep-names --code-splitting --outdir "$out" main.ts
[ -f "$out/main.js" ] || {
  echo "deno task bundle: deno bundle wrote no $out/main.js" >&2
  exit 1
}
