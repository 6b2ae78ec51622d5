import { useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { Button, ErrorText, Field } from '../components/ui';
import { Link } from '../router';

/** The invitation link `/console/activate?token=…`: choose a password, then sign in. */
export function Activate({ token }: { token: string }) {
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    if (password.length < 6) return setError('The password needs at least 6 characters.');
    if (password !== again) return setError('The two passwords are not the same.');
    setBusy(true);
    try {
      await api('POST', '/auth/activate', { token, password }, null);
      setDone(true);
    } catch (err) {
      setError(
        err instanceof ApiError && (err.status === 400 || err.status === 404 || err.status === 410 || err.status === 401)
          ? 'This activation link is not valid any more (it was used, replaced by a newer one, or expired). Ask an admin to send a new one.'
          : err instanceof Error
            ? err.message
            : String(err),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="auth-page">
      <div class="auth-card">
        <h1 tabIndex={-1}>Activate your account</h1>
        {!token ? (
          <p class="error-text" role="alert">
            This page needs the link from your invitation (it ends in <code>?token=…</code>).
          </p>
        ) : done ? (
          <p role="status">
            Your account is active. <Link href="/login">Sign in</Link> with your username and new password.
          </p>
        ) : (
          <form onSubmit={submit}>
            <Field label="New password" hint="At least 6 characters.">
              <input type="password" autoComplete="new-password" required minLength={6} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
            </Field>
            <Field label="Repeat the password">
              <input type="password" autoComplete="new-password" required value={again} onInput={(e) => setAgain(e.currentTarget.value)} />
            </Field>
            <ErrorText error={error} />
            <Button kind="primary" type="submit" disabled={busy}>
              Activate
            </Button>
          </form>
        )}
      </div>
    </main>
  );
}
