import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './styles.css';
import { ErrorText, Loading, Toasts } from './components/ui';
import { Activate } from './pages/Activate';
import type { AgentPage as AgentPageType } from './pages/agent/AgentPage';
import { Agents } from './pages/Agents';
import { Login } from './pages/Login';
import { Link, match, navigate, route } from './router';
import { can, session, signOut, updateFromAccount, type Session, type StaffAccount } from './session';
import { connectWorkspace, workspaceState } from './workspace';
import { useStore } from './store';

function App() {
  const r = useStore(route);
  const s = useStore(session);

  // After each navigation, put focus on the page heading so screen readers announce the new page.
  useEffect(() => {
    const h = document.querySelector<HTMLElement>('main h1');
    h?.focus({ preventScroll: true });
  }, [r.path]);

  if (r.path === '/activate') return <Activate token={r.query.get('token') ?? ''} />;
  if (!s) {
    if (r.path !== '/login') {
      const next = r.path === '/' ? '/agents' : r.path;
      queueMicrotask(() => navigate(`/login?next=${encodeURIComponent(next)}`, true));
      return null;
    }
    return <Login next={r.query.get('next') ?? '/agents'} />;
  }
  if (r.path === '/' || r.path === '/login') {
    queueMicrotask(() => navigate('/agents', true));
    return null;
  }
  return (
    <Shell session={s} path={r.path}>
      <Page path={r.path} session={s} />
    </Shell>
  );
}

/**
 * Pages loaded on demand: the agent page (graph layout, editor) and the staff
 * directory are their own chunks, so sign-in and the agents list load without them.
 */
function lazyPage<P extends object>(load: () => Promise<(p: P) => preact.JSX.Element>, what: string) {
  let loaded: ((p: P) => preact.JSX.Element) | null = null;
  return function Lazy(props: P) {
    const [C, setC] = useState(() => loaded);
    const [error, setError] = useState<string | null>(null);
    useEffect(() => {
      if (C) return;
      load()
        .then((c) => setC(() => (loaded = c)))
        .catch((e: Error) => setError(`This page could not load (${e.message}). Reload to try again.`));
    }, [C]);
    if (C) return <C {...props} />;
    return (
      <main id="main" class="page">
        {error ? <ErrorText error={error} /> : <Loading what={what} />}
      </main>
    );
  };
}

const LazyAgentPage = lazyPage<Parameters<typeof AgentPageType>[0]>(() => import('./pages/agent/AgentPage').then((m) => m.AgentPage), 'the agent');
const LazyCalls = lazyPage<Record<string, never>>(() => import('./pages/Calls').then((m) => m.Calls), 'calls');
const LazyCall = lazyPage<{ id: string; canAssume: boolean }>(() => import('./pages/Call').then((m) => m.CallPage), 'the call');
const LazyAnalytics = lazyPage<Record<string, never>>(() => import('./pages/Analytics').then((m) => m.AnalyticsPage), 'analytics');
const LazyStaffPage = lazyPage<{ selfId?: string }>(() => import('./pages/Staff').then((m) => m.StaffPage), 'staff');

function Page({ path, session: s }: { path: string; session: Session }) {
  if (path === '/agents') {
    document.title = 'Agents · Voice agents console';
    return <Agents session={s} />;
  }
  if (path === '/calls') {
    document.title = 'Calls · Voice agents console';
    return <LazyCalls />;
  }
  const call = match('/calls/:id', path);
  if (call) return <LazyCall key={call.id} id={call.id!} canAssume={s.kind === 'staff'} />;
  if (path === '/analytics' && can.viewAnalytics(s.role)) {
    document.title = 'Analytics · Voice agents console';
    return <LazyAnalytics />;
  }
  if (path === '/staff' && can.manageStaff(s.role)) {
    document.title = 'Staff · Voice agents console';
    return <LazyStaffPage selfId={s.staffId} />;
  }
  const one = match('/agents/:id', path) ?? match('/agents/:id/:tab', path);
  if (one) return <LazyAgentPage key={one.id} id={one.id!} tab={one.tab ?? ''} session={s} />;
  document.title = 'Not found · Voice agents console';
  return (
    <main id="main" class="page">
      <h1 tabIndex={-1}>Page not found</h1>
      <p>
        <Link href="/agents">Go to the agents</Link>
      </p>
    </main>
  );
}

/** Whether the workspace socket is up, i.e. whether this person counts as online. */
function Presence() {
  const w = useStore(workspaceState);
  return <span class={w.connected ? 'presence on' : 'presence'}>{w.connected ? 'Online' : 'Connecting…'}</span>;
}

type Offer = { callSid?: string; kind?: 'warm' | 'cold' | 'assume'; from?: string; brief?: string };

/** Transfer offers pushed on the workspace socket: the phone rings too; this says which call it is. */
function Offers() {
  const w = useStore(workspaceState);
  if (w.offers.length === 0) return null;
  return (
    <div class="banner banner-warn offers" role="alert">
      {(w.offers as Offer[]).map((o, i) => {
        const id = o.callSid;
        return (
          <p key={id ?? i}>
            <strong>{o.kind === 'assume' ? 'Your phone is ringing for the call you took over' : 'Transfer offer'}</strong>
            {o.from ? ` from ${o.from}` : ''}
            {o.brief ? `: ${o.brief}` : ''}. Answer your phone to take it.{' '}
            {id ? <Link href={`/calls/${encodeURIComponent(id)}`}>Open the call</Link> : null}{' '}
            <button type="button" class="btn btn-plain small" onClick={() => workspaceState.set({ ...w, offers: w.offers.filter((_, k) => k !== i) })}>
              Dismiss
            </button>
          </p>
        );
      })}
    </div>
  );
}

function Shell({ session: s, path, children }: { session: Session; path: string; children: preact.ComponentChildren }) {
  const nav = [
    { href: '/agents', label: 'Agents' },
    { href: '/calls', label: 'Calls' },
    ...(can.viewAnalytics(s.role) ? [{ href: '/analytics', label: 'Analytics' }] : []),
    ...(can.manageStaff(s.role) ? [{ href: '/staff', label: 'Staff' }] : []),
  ];
  // A signed-in person stays online while the console is open.
  useEffect(() => {
    if (s.kind !== 'staff') return;
    return connectWorkspace(
      s,
      () => void signOut().then(() => navigate('/login', true)),
      (m) => {
        if (m.type === 'account') updateFromAccount(m.staff as StaffAccount);
      },
    );
  }, [s.token]);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Link href="/agents" class="brand">
          Voice agents
        </Link>
        <nav aria-label="Main">
          {nav.map((n) => (
            <Link key={n.href} href={n.href} aria-current={path.startsWith(n.href) ? 'page' : undefined}>
              {n.label}
            </Link>
          ))}
        </nav>
        <span class="spacer" />
        <span class="who">
          {s.name} <span class="role-badge">{s.role}</span>
          {s.kind === 'staff' ? <Presence /> : null}
        </span>
        <button
          type="button"
          class="btn btn-plain"
          onClick={async () => {
            await signOut();
            navigate('/login', true);
          }}
        >
          Sign out
        </button>
      </header>
      {s.kind === 'staff' ? <Offers /> : null}
      {children}
      <Toasts />
    </>
  );
}

render(<App />, document.getElementById('app')!);
