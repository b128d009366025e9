/**
 * employees-view.js — the employee table, search, create/edit form and delete.
 *
 * Buttons follow the user's roles (editor/admin: new + edit; admin: delete),
 * but that is only a convenience: the gateway enforces the policy, and any
 * refusal it sends (403 and friends) is shown with the server's message.
 * Data is written with textContent only, never parsed as HTML.
 * Changes made by anyone arrive over the live feed (`applyChange`) and are
 * drawn as they come; "● Live" shows while the feed is connected.
 */

import { $, button, show } from './dom.js';

const CONFIRM_MS = 5000;
const FIELDS = ['first_name', 'last_name', 'email', 'department'];

function fullName(employee) {
  return [employee.first_name, employee.last_name].filter(Boolean).join(' ') || `#${employee.id}`;
}

/**
 * @param {{api: ReturnType<import('./api.js').employeeApi>, status: object,
 *          isLoggedIn: () => boolean, navigate: (path: string) => void}} deps
 */
export function createEmployeesView({ api, status, isLoggedIn, navigate }) {
  const el = {
    table: $('#employees'),
    tbody: $('#employees tbody'),
    actionsHeader: $('#actions-col'),
    search: $('#search'),
    count: $('#employee-count'),
    noMatch: $('#no-match'),
    reload: $('#reload'),
    newButton: $('#new-employee'),
    form: $('#employee-form'),
    formTitle: $('#employee-form-title'),
    formError: $('#form-error'),
    save: $('#save-employee'),
    cancel: $('#cancel-employee'),
    inputs: Object.fromEntries(FIELDS.map((name) => [name, $(`#${name}`)])),
    live: $('#live-status'),
  };

  let employees = [];
  let byId = new Map();
  let canEdit = false;
  let canDelete = false;
  let editingId = null; // null while creating
  let selectedId = null;
  let reloadSeq = 0;
  let loadedCount = 0;
  let changesSeen = 0;
  const confirmTimers = new Map(); // delete button -> timeout id

  // --- table ------------------------------------------------------------------

  function cell(className, text) {
    const td = document.createElement('td');
    td.className = className;
    td.textContent = text;
    return td;
  }

  function rowFor(employee) {
    const tr = document.createElement('tr');
    tr.dataset.id = String(employee.id);
    const name = fullName(employee);
    tr.append(
      cell('first-name', employee.first_name ?? ''),
      cell('last-name', employee.last_name ?? ''),
      cell('email', employee.email ?? ''),
      cell('department', employee.department ?? ''),
    );
    const updatedBy = cell('updated-by', employee.updated_by ?? '—');
    if (employee.updated_by == null) updatedBy.classList.add('muted');
    tr.append(updatedBy);

    const actions = cell('actions', '');
    actions.hidden = !(canEdit || canDelete);
    if (canEdit) actions.append(button('secondary edit', 'Edit', `Edit ${name}`));
    if (canDelete) actions.append(button('danger delete', 'Delete', `Delete ${name}`));
    tr.append(actions);
    if (String(employee.id) === selectedId) tr.classList.add('selected');
    return tr;
  }

  function render() {
    for (const timer of confirmTimers.values()) clearTimeout(timer);
    confirmTimers.clear();
    el.actionsHeader.hidden = !(canEdit || canDelete);
    el.tbody.replaceChildren(...employees.map(rowFor));
    applyFilter();
  }

  /** Hides rows that do not contain every word of the search box. */
  function applyFilter() {
    const words = el.search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const tr of el.tbody.rows) {
      const e = byId.get(tr.dataset.id);
      const haystack = e
        ? `${e.first_name ?? ''} ${e.last_name ?? ''} ${e.email ?? ''} ${e.department ?? ''}`.toLowerCase()
        : '';
      const match = words.every((w) => haystack.includes(w));
      tr.hidden = !match;
      if (match) shown += 1;
    }
    const total = employees.length;
    el.count.textContent = words.length
      ? `Showing ${shown} of ${total} employee${total === 1 ? '' : 's'}`
      : `${total} employee${total === 1 ? '' : 's'}`;
    el.noMatch.textContent = total === 0 ? 'No employees yet.' : 'No employees match your search.';
    el.noMatch.hidden = shown > 0;
  }

  /** Fetches the list again. Only the newest of overlapping reloads is drawn. */
  async function reload({ announce = false } = {}) {
    const seq = ++reloadSeq;
    el.table.setAttribute('aria-busy', 'true');
    el.reload.disabled = true;
    try {
      const list = await api.list();
      if (seq !== reloadSeq) return;
      employees = list;
      byId = new Map(list.map((e) => [String(e.id), e]));
      render();
      if (announce) status.say(`Loaded ${list.length} employee${list.length === 1 ? '' : 's'}.`);
    } catch (err) {
      if (seq !== reloadSeq) return;
      // If the session just ended the login screen explains; otherwise say why.
      if (isLoggedIn()) status.error(`Could not load employees: ${err.message}`);
    } finally {
      if (seq === reloadSeq) {
        el.table.removeAttribute('aria-busy');
        el.reload.disabled = false;
        loadedCount += 1;
        el.table.dataset.loaded = String(loadedCount);
      }
    }
  }

  // --- delete with a two-click confirm (no window.confirm, so tests can click) ---

  function disarm(deleteButton) {
    clearTimeout(confirmTimers.get(deleteButton));
    confirmTimers.delete(deleteButton);
    deleteButton.classList.remove('confirming');
    deleteButton.textContent = 'Delete';
    const name = deleteButton.dataset.name;
    if (name) deleteButton.setAttribute('aria-label', `Delete ${name}`);
  }

  async function onDelete(deleteButton, id) {
    const employee = byId.get(id);
    const name = employee ? fullName(employee) : `#${id}`;
    if (!deleteButton.classList.contains('confirming')) {
      deleteButton.dataset.name = name;
      deleteButton.classList.add('confirming');
      deleteButton.textContent = 'Confirm delete';
      deleteButton.setAttribute('aria-label', `Confirm delete of ${name}`);
      confirmTimers.set(deleteButton, setTimeout(() => disarm(deleteButton), CONFIRM_MS));
      status.say(`Press “Confirm delete” within ${CONFIRM_MS / 1000} seconds to delete ${name}.`);
      return;
    }
    clearTimeout(confirmTimers.get(deleteButton));
    confirmTimers.delete(deleteButton);
    deleteButton.disabled = true;
    deleteButton.textContent = 'Deleting…';
    try {
      await api.remove(id);
      status.say(`Deleted ${name}.`);
      if (editingId === id) closeForm({ restoreFocus: false });
      await reload();
      el.search.focus();
    } catch (err) {
      status.error(`Could not delete ${name}: ${err.message}`);
      deleteButton.disabled = false;
      disarm(deleteButton);
    }
  }

  // --- create / edit form --------------------------------------------------------

  let returnFocusTo = null;

  const showFormError = (message) => show(el.formError, message);

  function openForm(employee) {
    editingId = employee ? String(employee.id) : null;
    el.formTitle.textContent = employee ? `Edit ${fullName(employee)}` : 'New employee';
    for (const name of FIELDS) el.inputs[name].value = employee?.[name] ?? '';
    showFormError('');
    el.save.disabled = false;
    el.form.hidden = false;
    el.inputs.first_name.focus();
  }

  function openCreate({ push = true } = {}) {
    if (!canEdit) return;
    returnFocusTo = el.newButton;
    openForm(null);
    if (push) navigate('/employees/new');
  }

  /** Opens the edit form (or, without the editor role, just highlights the row). */
  function openEdit(id, { push = true } = {}) {
    const employee = byId.get(String(id));
    if (!employee) {
      status.error(`There is no employee with id ${id}.`);
      navigate('/', { replace: true });
      return;
    }
    select(String(id));
    if (!canEdit) return;
    returnFocusTo = null;
    openForm(employee);
    if (push) navigate(`/employees/${encodeURIComponent(id)}`);
  }

  function select(id) {
    selectedId = id;
    for (const tr of el.tbody.rows) tr.classList.toggle('selected', tr.dataset.id === id);
    el.tbody.querySelector('tr.selected')?.scrollIntoView({ block: 'nearest' });
  }

  function closeForm({ restoreFocus = true, push = true } = {}) {
    const wasEditing = editingId;
    el.form.hidden = true;
    editingId = null;
    showFormError('');
    if (push) navigate('/');
    if (!restoreFocus) return;
    // Rows are redrawn after a save, so look the edit button up again.
    const target = wasEditing
      ? el.tbody.querySelector(`tr[data-id="${CSS.escape(wasEditing)}"] .edit`)
      : returnFocusTo;
    (target && !target.hidden ? target : el.search).focus();
  }

  async function onSubmit(event) {
    event.preventDefault();
    const values = Object.fromEntries(FIELDS.map((name) => [name, el.inputs[name].value.trim()]));
    const id = editingId;
    showFormError('');
    el.save.disabled = true;
    try {
      // The server validates; its 400 message is shown as is.
      const saved = id === null ? await api.create(values) : await api.update(id, values);
      const name = fullName(saved && typeof saved === 'object' ? saved : values);
      status.say(id === null ? `Created ${name}.` : `Saved ${name}.`);
      el.form.hidden = true;
      await reload();
      closeForm();
    } catch (err) {
      const message = `${id === null ? 'Could not create the employee' : 'Could not save the changes'}: ${err.message}`;
      showFormError(message);
      status.error(message);
    } finally {
      el.save.disabled = false;
    }
  }

  // --- wiring -------------------------------------------------------------------

  el.search.addEventListener('input', applyFilter);
  el.reload.addEventListener('click', () => reload({ announce: true }));
  el.newButton.addEventListener('click', () => openCreate());
  el.cancel.addEventListener('click', () => closeForm());
  el.form.addEventListener('submit', onSubmit);
  el.form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') closeForm();
  });
  el.tbody.addEventListener('click', (event) => {
    const target = event.target.closest('button');
    const row = target?.closest('tr');
    if (!target || !row) return;
    if (target.classList.contains('edit')) openEdit(row.dataset.id);
    else if (target.classList.contains('delete')) onDelete(target, row.dataset.id);
  });

  /** Puts one employee in the list (in id order), or replaces it. */
  function upsert(employee) {
    const at = employees.findIndex((e) => String(e.id) === String(employee.id));
    if (at >= 0) employees[at] = employee;
    else employees = [...employees, employee].sort((a, b) => Number(a.id) - Number(b.id));
  }

  return {
    reload,

    /**
     * Draws a change the live feed told: `{type: 'created'|'updated',
     * employee}` or `{type: 'deleted', id}`; anything else is ignored.
     */
    applyChange(change) {
      const employee = change?.employee;
      if ((change?.type === 'created' || change?.type === 'updated') && employee?.id != null) {
        upsert(employee);
      } else if (change?.type === 'deleted' && change.id != null) {
        employees = employees.filter((e) => String(e.id) !== String(change.id));
      } else {
        return;
      }
      byId = new Map(employees.map((e) => [String(e.id), e]));
      render();
      changesSeen += 1;
      el.table.dataset.changes = String(changesSeen);
    },

    /** Shows whether the live feed is connected. */
    setLive(connected) {
      el.live.hidden = !connected;
      el.table.dataset.live = String(connected);
    },

    /** Shows or hides the role-dependent controls; redraws only on a change. */
    setPermissions(next) {
      if (next.canEdit === canEdit && next.canDelete === canDelete) return;
      canEdit = next.canEdit;
      canDelete = next.canDelete;
      el.newButton.hidden = !canEdit;
      if (!canEdit && !el.form.hidden) closeForm({ restoreFocus: false });
      render();
    },

    /** Applies a client-side route once the list is loaded. */
    showRoute(route) {
      if (route.name === 'new') {
        if (canEdit) openCreate({ push: false });
        else navigate('/', { replace: true });
      } else if (route.name === 'edit') {
        openEdit(route.id, { push: false });
      } else if (!el.form.hidden) {
        closeForm({ restoreFocus: false, push: false });
      }
    },

    /** Forgets everything shown, so the next user sees none of it. */
    reset() {
      reloadSeq += 1; // drop any reload still in flight
      employees = [];
      byId = new Map();
      selectedId = null;
      el.search.value = '';
      el.form.hidden = true;
      editingId = null;
      showFormError('');
      el.reload.disabled = false;
      el.table.removeAttribute('aria-busy');
      render();
      el.count.textContent = '';
      el.noMatch.hidden = true;
    },
  };
}
