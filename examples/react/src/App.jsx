import { auth, useSession } from './auth.js';
import { Employees } from './Employees.jsx';
import { LoginForm } from './LoginForm.jsx';

/** Why the gateway ended a session (contract §12), in a few words. */
const ENDED = {
  logout_all: 'You signed out everywhere.',
  ended_elsewhere: 'This session was ended from another device.',
  password_changed: 'Your password was changed.',
  expired: 'Your session expired.',
  idle: 'You were signed out after a while without activity.',
};

export function App() {
  const session = useSession();
  if (session.phase === 'loading') return <main data-phase="loading"><p>Loading…</p></main>;
  if (session.phase === 'signed-out') {
    const why = session.ended ? (ENDED[session.ended.reason] ?? 'Your session ended. Sign in again.') : null;
    return (
      <main data-phase="signed-out">
        <h1>Employees</h1>
        {why && <p className="notice" id="ended">{why}</p>}
        <LoginForm />
      </main>
    );
  }
  return (
    <main data-phase="signed-in">
      <header>
        <h1>Employees</h1>
        <p>
          Signed in as <strong id="whoami">{session.user.username}</strong>{' '}
          <button type="button" id="sign-out" onClick={() => auth.logout().catch(() => {})}>Sign out</button>
        </p>
      </header>
      <Employees />
    </main>
  );
}
