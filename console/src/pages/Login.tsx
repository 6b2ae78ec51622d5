import { useState } from 'preact/hooks';
import { ApiError } from '../api';
import { Button, ErrorText, Field } from '../components/ui';
import { navigate } from '../router';
import { signInWithKey, signInWithPassword } from '../session';

export function Login({ next }: { next: string }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [keyError, setKeyError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const go = () => navigate(next.startsWith('/') && !next.startsWith('//') ? next : '/agents', true);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signInWithPassword(username.trim(), password);
      go();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError('The username or password is not right, or the account is disabled.');
      else if (err instanceof ApiError && err.status === 429) setError('Too many attempts. Wait a few minutes, then try again.');
      else if (err instanceof ApiError && err.status === 404) setError('Staff sign-in is not available on this server yet. Use an API key below.');
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  const submitKey = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setKeyError(null);
    try {
      await signInWithKey(key);
      go();
    } catch (err) {
      setKeyError(err instanceof ApiError && err.status === 401 ? 'That API key is not valid.' : err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="auth-page">
      <div class="auth-card">
        <h1 tabIndex={-1}>Sign in</h1>
        <form onSubmit={submit} aria-describedby={error ? 'login-error' : undefined}>
          <Field label="Username">
            <input name="username" autoComplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
          </Field>
          <Field label="Password">
            <input name="password" type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          </Field>
          <ErrorText error={error} id="login-error" />
          <Button kind="primary" type="submit" disabled={busy}>
            Sign in
          </Button>
        </form>
        <details class="key-signin">
          <summary>Sign in with an API key</summary>
          <form onSubmit={submitKey}>
            <Field label="API key" hint="An admin, builder or support key from POST /api/v1/api-keys.">
              <input name="apiKey" type="password" autoComplete="off" required value={key} onInput={(e) => setKey(e.currentTarget.value)} />
            </Field>
            <ErrorText error={keyError} />
            <Button kind="primary" type="submit" disabled={busy}>
              Sign in with key
            </Button>
          </form>
        </details>
      </div>
    </main>
  );
}
