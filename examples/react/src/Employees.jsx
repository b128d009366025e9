// The employee list from the legacy API, through the gateway's /api with
// the access token (fetchApi adds it, and refreshes it once if refused).
import { useEffect, useState } from 'react';

import { auth } from './auth.js';

export function Employees() {
  const [employees, setEmployees] = useState(null);
  const [error, setError] = useState('');

  useEffect(() => {
    let live = true;
    (async () => {
      const res = await auth.fetchApi('/api/employees', { headers: { Accept: 'application/json' } });
      if (!res.ok) throw new Error(`The employee list could not be loaded (HTTP ${res.status}).`);
      const list = await res.json();
      if (live) setEmployees(list);
    })().catch((err) => live && setError(err.message));
    return () => {
      live = false;
    };
  }, []);

  if (error) return <p role="alert">{error}</p>;
  if (!employees) return <p>Loading employees…</p>;
  return (
    <table id="employees" data-count={employees.length}>
      <thead>
        <tr><th>Name</th><th>Email</th><th>Department</th></tr>
      </thead>
      <tbody>
        {employees.map((e) => (
          <tr key={e.id} data-id={e.id}>
            <td>{e.first_name} {e.last_name}</td>
            <td>{e.email}</td>
            <td>{e.department}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
