import type { JSX } from 'preact';
import { h } from 'preact';
import { Store } from './store';

export const BASE = '/console';

export interface Route {
  path: string; // without BASE, always starting with '/'
  query: URLSearchParams;
}

function read(): Route {
  let p = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : location.pathname;
  if (!p.startsWith('/')) p = `/${p}`;
  if (p.length > 1) p = p.replace(/\/+$/, '');
  return { path: p, query: new URLSearchParams(location.search) };
}

export const route = new Store<Route>(read());
addEventListener('popstate', () => route.set(read()));

/** Paths are console-relative: navigate('/agents/clinic'). */
export function navigate(to: string, replace = false): void {
  const url = `${BASE}${to}`;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  route.set(read());
}

type AnchorProps = JSX.IntrinsicElements['a'] & { href: string };

export function Link({ href, ...rest }: AnchorProps) {
  return h('a', {
    ...rest,
    href: `${BASE}${href}`,
    onClick: (e: MouseEvent) => {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      navigate(href);
    },
  });
}

/** `match('/agents/:id', '/agents/clinic')` → { id: 'clinic' }. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const a = pattern.split('/');
  const b = path.split('/');
  if (a.length !== b.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    const seg = a[i]!;
    if (seg.startsWith(':')) out[seg.slice(1)] = decodeURIComponent(b[i]!);
    else if (seg !== b[i]) return null;
  }
  return out;
}
