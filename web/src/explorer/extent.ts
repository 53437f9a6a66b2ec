// When a range holds nothing, the usual reason is a replayed capture: its
// records keep the capture's own times, far from "the last hour". extentHint
// offers the span of the stored data (/api/v1/extent) as a one-click range.

import { h } from '../lib/dom';
import { getJSON } from '../lib/api';
import { updateParams } from '../lib/state';

type Extent = { from: string | null; to: string | null };

// extentHint returns a paragraph with a button that sets the shared range
// to the stored data's span, or null when nothing is stored.
export async function extentHint(signal?: AbortSignal): Promise<HTMLElement | null> {
  let e: Extent;
  try {
    e = await getJSON<Extent>('/api/v1/extent', undefined, signal);
  } catch {
    return null;
  }
  if (!e.from || !e.to) return null;
  const { from, to } = e;
  return h(
    'p',
    { class: 'extent-hint muted' },
    `Stored data spans ${from.replace('T', ' ')} → ${to.replace('T', ' ')}. `,
    h('button', { type: 'button', id: 'show-extent', onclick: () => updateParams({ from, to, live: '' }, true) }, 'Show that range'),
  );
}
