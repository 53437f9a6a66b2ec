// No string ever becomes markup or code: web/src must not use the DOM's
// HTML parsers or eval. (Views build DOM with h() from lib/dom.ts, whose
// string children are text nodes.) Usage: node web/tests/nohtml.test.mjs -
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { check, main } from './lib.mjs';

const src = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');
const sinks = [/\binnerHTML\b/, /\bouterHTML\b/, /\binsertAdjacentHTML\b/, /\bdocument\.write(ln)?\b/, /\beval\s*\(/, /\bnew\s+Function\b/, /\bcreateContextualFragment\b/, /\bsrcdoc\b/];

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(ts|tsx|js|mjs)$/.test(name)) out.push(p);
  }
  return out;
}

// Comments may name the sinks (to say why they are not used); code may not,
// except lib/dom.ts's list of refused attribute names.
function code(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
}

await main(async () => {
  const files = walk(src);
  check(files.length > 5, `found the sources (${files.length} files under ${src})`);
  for (const f of files) {
    const lines = code(readFileSync(f, 'utf8')).split('\n');
    const found = [];
    lines.forEach((line, i) => {
      if (f.endsWith(join('lib', 'dom.ts')) && /const refused = new Set/.test(line)) return;
      for (const re of sinks) if (re.test(line)) found.push(`${i + 1}: ${re}: ${line.trim()}`);
    });
    check(found.length === 0, `${f}: no HTML or code sinks\n  ${found.join('\n  ')}`);
  }
});
