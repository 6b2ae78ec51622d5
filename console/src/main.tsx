import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './styles.css';
import { ErrorText, Loading, Toasts } from './components/ui';
import { Activate } from './pages/Activate';
import type { AgentPage as AgentPageType } from './pages/agent/AgentPage';
import { Agents } from './pages/Agents';
import { Login } from './pages/Login';
import { Link, match, navigate, route } from './router';
import { can, session, signOut, type Session } from './session';
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

/** The agent page (graph layout, editor) is its own chunk: sign-in and the agents list load without it. */
let agentPage: typeof AgentPageType | null = null;
function LazyAgentPage(props: Parameters<typeof AgentPageType>[0]) {
  const [C, setC] = useState(() => agentPage);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (C) return;
    import('./pages/agent/AgentPage')
      .then((m) => setC(() => (agentPage = m.AgentPage)))
      .catch((e: Error) => setError(`This page could not load (${e.message}). Reload to try again.`));
  }, [C]);
  if (C) return <C {...props} />;
  return (
    <main id="main" class="page">
      {error ? <ErrorText error={error} /> : <Loading what="the agent" />}
    </main>
  );
}

function Page({ path, session: s }: { path: string; session: Session }) {
  if (path === '/agents') {
    document.title = 'Agents · Voice agents console';
    return <Agents session={s} />;
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

function Shell({ session: s, path, children }: { session: Session; path: string; children: preact.ComponentChildren }) {
  const nav = [{ href: '/agents', label: 'Agents' }];
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
          {can.manageStaff(s.role) ? null : null}
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
      {children}
      <Toasts />
    </>
  );
}

render(<App />, document.getElementById('app')!);
