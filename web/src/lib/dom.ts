// DOM building without HTML parsing. Everything shown by the UI may come from
// captured traffic (hostile bytes), so elements are built node by node: a
// string child is always a text node, an attribute is always setAttribute, and
// the keys that would parse markup or run script are refused outright.

export type Attr = string | number | boolean | ((e: Event) => void) | undefined;
export type Child = Node | string | number | null | undefined | false;

// Keys that would turn data into markup or script if passed through.
const refused = new Set(['innerhtml', 'outerhtml', 'srcdoc', 'insertadjacenthtml']);

// Attributes whose value is a URL: a javascript: or data: URL from captured
// traffic would run script when clicked, so only relative and http(s) URLs pass.
const urlAttrs = new Set(['href', 'src', 'action', 'formaction', 'xlink:href']);

function safeURL(v: string): boolean {
  const s = v.trim().toLowerCase();
  if (s.startsWith('#') || s.startsWith('/') || s.startsWith('?')) return !s.startsWith('//');
  return s.startsWith('http://') || s.startsWith('https://');
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Record<string, Attr> | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === false) continue;
      const lower = key.toLowerCase();
      if (refused.has(lower)) throw new Error(`h(): attribute ${key} is not allowed`);
      if (lower.startsWith('on')) {
        if (typeof value !== 'function') throw new Error(`h(): ${key} must be a function`);
        el.addEventListener(lower.slice(2), value);
        continue;
      }
      if (typeof value === 'function') throw new Error(`h(): ${key} cannot take a function`);
      const text = value === true ? '' : String(value);
      if (urlAttrs.has(lower) && !safeURL(text)) continue;
      el.setAttribute(key, text);
    }
  }
  append(el, ...children);
  return el;
}

// append adds children with the same rules as h().
export function append(el: Element, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
}

export function clear(el: Element): void {
  while (el.lastChild) el.removeChild(el.lastChild);
}
