import { useState, type FormEvent } from 'react'
import type { User } from '../api/types.ts'
import { adminApi, errorMessage, type AdminUser, type CityInfo, type Role } from '../installer/api.ts'
import { loadConfig, useLoad } from '../installer/data.ts'
import { ConfirmButton } from '../installer/ui.tsx'

/**
 * Users and roles (admins): create accounts, change role and cities, reset a password, disable or
 * enable. The server ends a user's sessions on any of these changes.
 */

const ROLES: { role: Role; label: string; help: string }[] = [
  { role: 'installer', label: 'Installer', help: 'registers and commissions devices; with cities, only in those' },
  { role: 'operator', label: 'Operator', help: 'sees everything, handles alerts' },
  { role: 'admin', label: 'Admin', help: 'everything, including users' },
]

function CityPicker({ cities, value, onChange, prefix }: { cities: CityInfo[]; value: string[]; onChange: (v: string[]) => void; prefix: string }) {
  return (
    <fieldset className="adm-cities">
      <legend>Cities (installers; none = only the devices they register)</legend>
      {cities.map((c) => (
        <label key={c.id} className="adm-city">
          <input
            type="checkbox"
            checked={value.includes(c.id)}
            onChange={(e) => onChange(e.target.checked ? [...value, c.id] : value.filter((x) => x !== c.id))}
            data-testid={`${prefix}-city-${c.id}`}
          />
          {c.name}
        </label>
      ))}
    </fieldset>
  )
}

export function UsersPage({ user }: { user: User }) {
  const [config] = useLoad(loadConfig)
  const [users, reload] = useLoad(adminApi.users)
  const [notice, setNotice] = useState('')

  if (user.role !== 'admin') return <p className="error">Only admins manage users.</p>
  if (users.state === 'error') return <p className="error" role="alert">Could not load the users: {users.message}</p>
  if (users.state !== 'ready' || config.state !== 'ready') return <p className="loading" role="status">Loading…</p>
  const cities = config.value.cities

  return (
    <div className="inst-stack" data-testid="users-page">
      <CreateUser
        cities={cities}
        onCreated={(u) => {
          setNotice(`Created ${u.username} (${u.role}).`)
          reload()
        }}
      />
      <p className="inst-ok" role="status" data-testid="users-notice">
        {notice}
      </p>
      <section className="inst-card" aria-labelledby="users-title">
        <h1 id="users-title">Users</h1>
        <ul className="adm-users">
          {users.value.items.map((u) => (
            <UserItem
              key={u.username}
              u={u}
              me={u.username === user.username}
              cities={cities}
              onChanged={(message) => {
                setNotice(message)
                reload()
              }}
            />
          ))}
        </ul>
      </section>
    </div>
  )
}

function CreateUser({ cities, onCreated }: { cities: CityInfo[]; onCreated: (u: AdminUser) => void }) {
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [role, setRole] = useState<Role>('installer')
  const [chosen, setChosen] = useState<string[]>([])
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    if (!username.trim() || password.length < 8) return setError(!username.trim() ? 'Give a username.' : 'The password needs at least 8 characters.')
    setBusy(true)
    setError('')
    try {
      const created = await adminApi.createUser({ username: username.trim(), password, role, ...(role === 'installer' && chosen.length ? { cities: chosen } : {}) })
      setUsername('')
      setPassword('')
      setChosen([])
      onCreated(created)
    } catch (err) {
      setError(errorMessage(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <form className="inst-card inst-form" onSubmit={submit} noValidate data-testid="user-create-form" aria-labelledby="create-user-title">
      <h2 id="create-user-title">New user</h2>
      <label htmlFor="user-username">Username</label>
      <input id="user-username" value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="off" data-testid="user-username" />
      <label htmlFor="user-password">Initial password (8+ characters)</label>
      <input id="user-password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} data-testid="user-password" />
      <label htmlFor="user-role">Role</label>
      <select id="user-role" value={role} onChange={(e) => setRole(e.target.value as Role)} data-testid="user-role">
        {ROLES.map((r) => (
          <option key={r.role} value={r.role}>
            {r.label}
          </option>
        ))}
      </select>
      <p className="inst-hint">{ROLES.find((r) => r.role === role)?.help}.</p>
      {role === 'installer' && <CityPicker cities={cities} value={chosen} onChange={setChosen} prefix="user" />}
      <p className="error" role="alert" data-testid="user-create-error">
        {error}
      </p>
      <button type="submit" className="inst-primary" aria-disabled={busy} data-testid="user-create-submit">
        {busy ? 'Creating…' : 'Create user'}
      </button>
    </form>
  )
}

function UserItem({ u, me, cities, onChanged }: { u: AdminUser; me: boolean; cities: CityInfo[]; onChanged: (message: string) => void }) {
  const [editing, setEditing] = useState(false)
  const [role, setRole] = useState<Role>(u.role)
  const [chosen, setChosen] = useState<string[]>(u.cities ?? [])
  const [password, setPassword] = useState('')
  const [error, setError] = useState('')
  const run = async (work: () => Promise<unknown>, message: string) => {
    setError('')
    try {
      await work()
      setEditing(false)
      setPassword('')
      onChanged(message)
    } catch (e) {
      setError(errorMessage(e))
    }
  }
  const cityNames = (u.cities ?? []).map((id) => cities.find((c) => c.id === id)?.name ?? id)
  return (
    <li className={`adm-user${u.disabled ? ' adm-disabled' : ''}`} data-testid="user-item" data-username={u.username} data-role={u.role} data-disabled={String(u.disabled)}>
      <div className="adm-user-head">
        <strong>{u.username}</strong>
        {me && <small>(you)</small>}
        <span className={`inst-badge adm-role-${u.role}`}>{u.role}</span>
        {u.disabled && <span className="inst-badge inst-badge-revoked">disabled</span>}
      </div>
      {u.role === 'installer' && <p className="inst-hint">{cityNames.length ? `Cities: ${cityNames.join(', ')}` : 'No cities: only the devices they register'}</p>}
      {editing ? (
        <div className="inst-form">
          <label htmlFor={`role-${u.username}`}>Role</label>
          <select id={`role-${u.username}`} value={role} onChange={(e) => setRole(e.target.value as Role)} data-testid="user-role-select">
            {ROLES.map((r) => (
              <option key={r.role} value={r.role}>
                {r.label}
              </option>
            ))}
          </select>
          {role === 'installer' && <CityPicker cities={cities} value={chosen} onChange={setChosen} prefix="edit" />}
          <div className="inst-actions">
            <button type="button" className="inst-secondary" onClick={() => setEditing(false)}>
              Cancel
            </button>
            <button
              type="button"
              data-testid="user-save"
              onClick={() => run(() => adminApi.updateUser(u.username, { role, cities: role === 'installer' ? chosen : null }), `Saved ${u.username}: they log in again with the new rights.`)}
            >
              Save
            </button>
          </div>
          <label htmlFor={`password-${u.username}`}>New password</label>
          <div className="inst-row">
            <input id={`password-${u.username}`} type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} data-testid="user-new-password" />
            <button
              type="button"
              className="inst-secondary"
              disabled={password.length < 8}
              data-testid="user-reset-password"
              onClick={() => run(() => adminApi.updateUser(u.username, { password }), `New password set for ${u.username}; their sessions ended.`)}
            >
              Reset password
            </button>
          </div>
        </div>
      ) : (
        <div className="inst-actions inst-actions-wrap">
          <button type="button" className="inst-secondary" onClick={() => setEditing(true)} data-testid="user-edit">
            Edit role, cities, password
          </button>
          {!me &&
            (u.disabled ? (
              <button type="button" className="inst-secondary" data-testid="user-enable" onClick={() => run(() => adminApi.updateUser(u.username, { disabled: false }), `Enabled ${u.username}.`)}>
                Enable
              </button>
            ) : (
              <ConfirmButton
                label="Disable"
                confirmLabel="Disable"
                question={`${u.username} is logged out and cannot log in.`}
                danger
                testid="user-disable"
                onConfirm={() => run(() => adminApi.updateUser(u.username, { disabled: true }), `Disabled ${u.username}; their sessions ended.`)}
              />
            ))}
        </div>
      )}
      <p className="error" role="alert">
        {error}
      </p>
    </li>
  )
}
