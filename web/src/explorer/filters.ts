// The explorer's filters are the API's own query parameters, read from the
// center's OpenAPI document (/api/openapi.json), so the form offers exactly
// what the endpoint takes and checks values by the same rules before
// asking: a value the API would refuse is flagged at the field with the
// API's wording. What slips through (a rule the document cannot express)
// comes back as the API's 400 message, which the explorer shows.

import { h } from '../lib/dom';
import type { OpenAPIDoc, OpenAPIParam } from './types';

// Parameters the explorer sets itself, not through the filter form.
const managed = new Set(['from', 'to', 'cursor', 'limit']);

// Limits the API applies to every parameter (internal/center/api/params.go),
// which the OpenAPI document only states for some.
const maxParamBytes = 1024;
const maxListItems = 64;
const maxFieldParams = 16;
const maxFieldKeyChars = 128;

export type FilterSpec = {
  name: string;
  description: string;
  example: string;
  kind: 'string' | 'integer' | 'number' | 'boolean' | 'enum' | 'list' | 'cidr' | 'label';
  enum?: string[];
  min?: number;
  max?: number;
  maxBytes: number;
};

export type EndpointSpec = {
  filters: FilterSpec[];
  // The prefix of free-key parameters (field.), when the endpoint has them.
  fieldPrefix: string | null;
  limitMax: number;
  limitDefault: number;
};

// specFor reads an endpoint's parameters from the OpenAPI document.
export function specFor(doc: OpenAPIDoc, path: string): EndpointSpec {
  const params = doc.paths[path]?.get?.parameters ?? [];
  const spec: EndpointSpec = { filters: [], fieldPrefix: null, limitMax: 10000, limitDefault: 100 };
  for (const p of params) {
    if (p.in !== 'query') continue;
    if (p['x-name-prefix']) {
      spec.fieldPrefix = p['x-name-prefix'];
      continue;
    }
    if (p.name === 'limit') {
      spec.limitMax = p.schema.maximum ?? spec.limitMax;
      spec.limitDefault = typeof p.schema.default === 'number' ? p.schema.default : spec.limitDefault;
      continue;
    }
    if (managed.has(p.name)) continue;
    spec.filters.push(filterOf(p));
  }
  return spec;
}

function filterOf(p: OpenAPIParam): FilterSpec {
  const s = p.schema;
  const f: FilterSpec = {
    name: p.name,
    description: (p.description ?? '').replace(/`/g, ''),
    example: p.example === undefined ? '' : Array.isArray(p.example) ? p.example.join(',') : String(p.example),
    kind: 'string',
    maxBytes: s.maxLength ?? maxParamBytes,
  };
  if (s.enum) {
    f.kind = 'enum';
    f.enum = s.enum;
  } else if (s.type === 'array') {
    f.kind = 'list';
    if (s.items?.enum) f.enum = s.items.enum;
  } else if (s.type === 'integer' || s.type === 'number') {
    f.kind = s.type;
    f.min = s.minimum;
    f.max = s.maximum;
  } else if (s.type === 'boolean') {
    f.kind = 'boolean';
  } else if (s.format === 'cidr') {
    f.kind = 'cidr';
  } else if (s.pattern) {
    f.kind = 'label';
  }
  return f;
}

const utf8 = new TextEncoder();

function q(s: string): string {
  return JSON.stringify(s);
}

// g formats a number as Go's %g does (the API's messages use it): the
// shortest digits, in exponent form (1e+09) from an exponent of 6 up.
export function g(n: number | undefined): string {
  if (n === undefined) return '';
  if (n === 0 || !Number.isFinite(n)) return String(n);
  const [m, e] = n.toExponential().split('e') as [string, string];
  const exp = Number(e);
  if (exp < -4 || exp >= 6) return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(n);
}

// validate checks one value the way the API will (params.go); it returns
// the API's message for a value it would refuse, or null.
export function validate(f: FilterSpec, v: string): string | null {
  if (v === '') return null;
  const name = `parameter ${q(f.name)}`;
  if (utf8.encode(v).length > f.maxBytes) return `${name}: longer than ${f.maxBytes} bytes`;
  switch (f.kind) {
    case 'enum':
      return f.enum!.includes(v) ? null : `${name}: unknown value ${q(v)}; want ${f.enum!.join(', ')}`;
    case 'list': {
      const items = v.split(',').map((x) => x.trim()).filter((x) => x !== '');
      if (items.length > maxListItems) return `${name}: ${items.length} values, at most ${maxListItems}`;
      const bad = f.enum ? items.find((x) => !f.enum!.includes(x)) : undefined;
      return bad !== undefined ? `${name}: unknown value ${q(bad)}; want ${f.enum!.join(', ')}` : null;
    }
    case 'integer': {
      const min = f.min ?? -Infinity;
      const max = f.max ?? Infinity;
      // Ports take no sign (strconv.ParseUint); other integers may (Atoi).
      const port = f.min === 1 && f.max === 65535;
      const ok = (port ? /^\d+$/ : /^[+-]?\d+$/).test(v) && Number(v) >= min && Number(v) <= max;
      if (ok) return null;
      return port ? `${name}: ${q(v)} is not a port; want 1 to 65535` : `${name}: ${q(v)}: want a whole number from ${g(f.min)} to ${g(f.max)}`;
    }
    case 'number': {
      const n = Number(v);
      const ok = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v) && n >= (f.min ?? -Infinity) && n <= (f.max ?? Infinity);
      return ok ? null : `${name}: ${q(v)}: want a number from ${g(f.min)} to ${g(f.max)}`;
    }
    case 'boolean':
      return ['true', 'false', '1', '0'].includes(v) ? null : `${name}: ${q(v)}: want true or false`;
    case 'cidr':
      return isAddrOrCIDR(v) ? null : `${name}: ${q(v)} is not an address or a CIDR`;
    case 'label': {
      const i = v.indexOf('=');
      return i > 0 && i < v.length - 1 ? null : `${name}: ${q(v)}: want LABEL=VALUE (env=prod)`;
    }
    default:
      return null;
  }
}

// validateField checks one field.KEY=VALUE filter.
export function validateField(prefix: string, key: string, value: string): string | null {
  const name = `parameter ${q(prefix + key)}`;
  if (key === '' || [...key].length > maxFieldKeyChars) return `${name}: want ${prefix}<key> with a key of 1 to ${maxFieldKeyChars} characters`;
  if (utf8.encode(value).length > maxParamBytes) return `${name}: longer than ${maxParamBytes} bytes`;
  return null;
}

export { maxFieldParams };

// ---- addresses, as Go's net/netip parses them ---------------------------

function isIPv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

function isIPv6(s: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return false;
  // An embedded IPv4 tail (::ffff:10.0.0.1) stands for two groups.
  const lc = s.lastIndexOf(':');
  if (lc < 0) return false;
  const tail = s.slice(lc + 1);
  let v = s;
  if (tail.includes('.')) {
    if (!isIPv4(tail)) return false;
    v = s.slice(0, lc + 1) + '0:0';
  }
  const halves = v.split('::');
  if (halves.length > 2) return false;
  const groups = (x: string): number => {
    if (x === '') return 0;
    const g = x.split(':');
    return g.every((y) => /^[0-9a-fA-F]{1,4}$/.test(y)) ? g.length : NaN;
  };
  const n = halves.reduce((a, x) => a + groups(x), 0);
  return halves.length === 2 ? n <= 7 : n === 8;
}

export function isAddrOrCIDR(v: string): boolean {
  const slash = v.indexOf('/');
  const addr = slash < 0 ? v : v.slice(0, slash);
  const v4 = isIPv4(addr);
  if (!v4 && !isIPv6(addr)) return false;
  if (slash < 0) return true;
  const bits = v.slice(slash + 1);
  return /^(0|[1-9]\d*)$/.test(bits) && Number(bits) <= (v4 ? 32 : 128);
}

// ---- the form ------------------------------------------------------------

export type FilterForm = {
  el: HTMLFormElement;
  // set fills the inputs from URL params.
  set(params: URLSearchParams): void;
};

// filterForm builds the form. onApply gets the checked values (every
// filter name, '' for empty, plus prefix keys) when all are valid.
export function filterForm(spec: EndpointSpec, onApply: (values: Record<string, string>) => void): FilterForm {
  const inputs = new Map<string, HTMLInputElement | HTMLSelectElement>();
  const errs = new Map<string, HTMLElement>();
  const grid = h('div', { class: 'filter-grid' });
  for (const f of spec.filters) {
    let input: HTMLInputElement | HTMLSelectElement;
    if (f.kind === 'enum' || f.kind === 'boolean') {
      const opts = f.kind === 'boolean' ? ['true', 'false'] : f.enum!;
      input = h('select', { name: f.name, id: `f-${f.name}` }, h('option', { value: '' }, 'any'), ...opts.map((o) => h('option', { value: o }, o)));
    } else {
      input = h('input', {
        name: f.name,
        id: `f-${f.name}`,
        type: 'text',
        placeholder: f.example ? `e.g. ${f.example}` : '',
        autocomplete: 'off',
        spellcheck: 'false',
      });
    }
    input.title = f.description;
    const err = h('div', { class: 'field-error error', id: `f-${f.name}-error` });
    inputs.set(f.name, input);
    errs.set(f.name, err);
    grid.append(h('label', { class: 'filter', for: `f-${f.name}` }, h('span', { class: 'fname', title: f.description }, f.name), input, err));
  }

  // field.KEY=VALUE rows.
  const fieldRows = h('div', { class: 'field-rows' });
  const fieldErr = h('div', { class: 'field-error error', id: 'f-fields-error' });
  const addFieldRow = (key = '', value = ''): void => {
    if (fieldRows.children.length >= maxFieldParams) return;
    const k = h('input', { type: 'text', class: 'fkey', placeholder: 'key (e.g. host)', value: key, autocomplete: 'off' });
    const v = h('input', { type: 'text', class: 'fval', placeholder: 'exact value', value, autocomplete: 'off' });
    const rowEl = h('div', { class: 'field-row' }, h('span', { class: 'muted' }, spec.fieldPrefix ?? ''), k, h('span', { class: 'muted' }, '='), v);
    rowEl.append(h('button', { type: 'button', class: 'icon', title: 'remove', onclick: () => rowEl.remove() }, '×'));
    fieldRows.append(rowEl);
  };
  const fieldsBox = spec.fieldPrefix
    ? h(
        'div',
        { class: 'fields-box' },
        h('span', { class: 'fname', title: `protocol fields, exact match (docs/proto/*.md), up to ${maxFieldParams}` }, `${spec.fieldPrefix}KEY`),
        fieldRows,
        h('button', { type: 'button', id: 'f-add-field', onclick: () => addFieldRow() }, '+ field'),
        fieldErr,
      )
    : null;

  const apply = h('button', { type: 'submit', id: 'f-apply' }, 'Apply');
  const reset = h('button', { type: 'button', id: 'f-clear' }, 'Clear');
  const el = h('form', { class: 'filters', id: 'ex-filters', autocomplete: 'off' }, grid, fieldsBox, h('div', { class: 'filter-actions' }, apply, reset));

  const collect = (): Record<string, string> | null => {
    const out: Record<string, string> = {};
    let ok = true;
    for (const f of spec.filters) {
      const input = inputs.get(f.name)!;
      const v = input.value.trim();
      const msg = validate(f, v);
      errs.get(f.name)!.textContent = msg ?? '';
      input.classList.toggle('invalid', msg !== null);
      if (msg) ok = false;
      out[f.name] = v;
    }
    fieldErr.textContent = '';
    for (const r of [...fieldRows.children]) {
      const k = (r.querySelector('.fkey') as HTMLInputElement).value.trim();
      const v = (r.querySelector('.fval') as HTMLInputElement).value;
      if (k === '' && v === '') continue;
      const msg = validateField(spec.fieldPrefix ?? '', k, v);
      if (msg) {
        fieldErr.textContent = msg;
        ok = false;
      }
      out[(spec.fieldPrefix ?? '') + k] = v;
    }
    return ok ? out : null;
  };

  el.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = collect();
    if (v) onApply(v);
  });
  reset.addEventListener('click', () => {
    for (const i of inputs.values()) i.value = '';
    while (fieldRows.firstChild) fieldRows.firstChild.remove();
    const v = collect();
    if (v) onApply(v);
  });

  return {
    el,
    set(params: URLSearchParams): void {
      for (const f of spec.filters) {
        const input = inputs.get(f.name)!;
        input.value = params.getAll(f.name).join(',');
        const msg = validate(f, input.value);
        errs.get(f.name)!.textContent = msg ?? '';
        input.classList.toggle('invalid', msg !== null);
      }
      while (fieldRows.firstChild) fieldRows.firstChild.remove();
      if (spec.fieldPrefix) {
        for (const [k, v] of params) if (k.startsWith(spec.fieldPrefix)) addFieldRow(k.slice(spec.fieldPrefix.length), v);
      }
    },
  };
}

// filterParams picks the endpoint's filters out of URL params.
export function filterParams(spec: EndpointSpec, params: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of spec.filters) {
    const v = params.getAll(f.name).join(',');
    if (v !== '') out[f.name] = v;
  }
  if (spec.fieldPrefix) for (const [k, v] of params) if (k.startsWith(spec.fieldPrefix)) out[k] = v;
  return out;
}

// firstInvalid returns the first filter in params the API would refuse.
export function firstInvalid(spec: EndpointSpec, params: Record<string, string>): string | null {
  for (const f of spec.filters) {
    const msg = validate(f, params[f.name] ?? '');
    if (msg) return msg;
  }
  return null;
}
