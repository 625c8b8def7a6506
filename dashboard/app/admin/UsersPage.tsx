import { useState } from 'react'
import { useStrings } from '../../i18n/react.tsx'
import type { User } from '../api/types.ts'
import { adminApi, type AdminUser, type CityInfo, type Role } from '../installer/api.ts'
import { loadConfig, useLoad } from '../installer/data.ts'
import { ConfirmButton } from '../installer/ui.tsx'
import { AdminForm, Field } from './AdminForm.tsx'
import { ADMIN_STRINGS } from './strings.ts'
import { Pager, SortHeader, useDateTime, usePaging, useSettled, type SortState } from './table.tsx'
import { useErrorText } from '../api/error-text.ts'

/**
 * Users and roles (admins): a table searched, sorted and paged by the server; create accounts,
 * change role and cities, reset a password, disable or enable. The server ends a user's sessions
 * on any of these changes.
 */

const ROLES: Role[] = ['installer', 'operator', 'admin']
const PAGE_SIZE = 50
type UserSort = 'username' | 'role' | 'createdAt'

function CityPicker({ cities, value, onChange, prefix }: { cities: CityInfo[]; value: string[]; onChange: (v: string[]) => void; prefix: string }) {
  const t = useStrings(ADMIN_STRINGS).users
  return (
    <fieldset className="adm-cities">
      <legend>{t.citiesLegend}</legend>
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
  const strings = useStrings(ADMIN_STRINGS)
  const { users: t, list: tl } = strings
  const dateTime = useDateTime()
  const [config] = useLoad(loadConfig)
  const [search, setSearch] = useState('')
  const query = useSettled(search)
  const [role, setRole] = useState('')
  const [order, setOrder] = useState<SortState<UserSort>>({ sort: 'username', order: 'asc' })
  const question = JSON.stringify({ query, role, order })
  const [offset, setOffset] = usePaging(question)
  const [version, setVersion] = useState(0)
  const [users, reload] = useLoad(
    async () => ({ ...(await adminApi.users({ search: query, role, sort: order.sort, order: order.order, limit: PAGE_SIZE, offset })), at: offset }),
    JSON.stringify({ question, offset, version }),
  )
  const [notice, setNotice] = useState('')
  const changed = (message: string) => {
    setNotice(message)
    setVersion((v) => v + 1)
  }

  if (user.role !== 'admin') return <p className="error">{strings.shell.deniedUsers}</p>
  const cities = config.state === 'ready' ? config.value.cities : []
  const items = users.state === 'ready' ? users.value.items : []
  const total = users.state === 'ready' ? users.value.total : 0
  const shownAt = users.state === 'ready' ? users.value.at : offset
  const header = (column: UserSort) => <SortHeader label={t.columns[column]} column={column} state={order} onSort={setOrder} />

  return (
    <div className="adm-layout" data-testid="users-page">
      <section className="inst-card adm-list" aria-labelledby="users-title">
        <h1 id="users-title">{t.title}</h1>
        <p className="inst-ok" role="status" data-testid="users-notice">
          {notice}
        </p>
        <div className="adm-toolbar">
          <input type="search" aria-label={t.search} placeholder={t.searchPlaceholder} value={search} onChange={(e) => setSearch(e.target.value)} data-testid="users-search" />
          <select aria-label={t.role} value={role} onChange={(e) => setRole(e.target.value)} data-testid="users-role-filter">
            <option value="">{t.anyRole}</option>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {t.roles[r]}
              </option>
            ))}
          </select>
        </div>
        {users.state === 'error' ? (
          <p className="error" role="alert">
            {t.loadError} {users.message}{' '}
            <button type="button" className="inst-linkbutton" onClick={reload}>
              {tl.retry}
            </button>
          </p>
        ) : users.state === 'loading' || config.state !== 'ready' ? (
          <p className="loading" role="status">
            {tl.loading}
          </p>
        ) : items.length === 0 ? (
          <p className="inst-hint" data-testid="users-empty">
            {t.noMatch}
          </p>
        ) : (
          <>
            <Pager prefix="users" offset={shownAt} shown={items.length} total={total} pageSize={PAGE_SIZE} onOffset={setOffset} />
            <div className="adm-table-scroll">
              <table className="adm-table" aria-label={t.table} data-testid="users-table">
                <thead>
                  <tr>
                    {header('username')}
                    {header('role')}
                    <th scope="col">{t.columns.cities}</th>
                    <th scope="col">{t.columns.state}</th>
                    {header('createdAt')}
                    <th scope="col">{t.columns.actions}</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((u) => (
                    <UserRow key={u.username} u={u} me={u.username === user.username} cities={cities} created={dateTime(Date.parse(u.createdAt))} onChanged={changed} />
                  ))}
                </tbody>
              </table>
            </div>
            {total > PAGE_SIZE && <Pager prefix="users" offset={shownAt} shown={items.length} total={total} pageSize={PAGE_SIZE} onOffset={setOffset} bottom />}
          </>
        )}
      </section>
      {config.state === 'ready' && <CreateUser cities={cities} onCreated={(u) => changed(t.created(u.username, t.roles[u.role]!))} />}
    </div>
  )
}

function CreateUser({ cities, onCreated }: { cities: CityInfo[]; onCreated: (u: AdminUser) => void }) {
  const t = useStrings(ADMIN_STRINGS).users
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [role, setRole] = useState<Role>('installer')
  const [chosen, setChosen] = useState<string[]>([])
  const submit = async () => {
    if (!username.trim()) return t.giveUsername
    if (password.length < 8) return t.shortPassword
    const created = await adminApi.createUser({ username: username.trim(), password, role, ...(role === 'installer' && chosen.length ? { cities: chosen } : {}) })
    setUsername('')
    setPassword('')
    setChosen([])
    onCreated(created)
  }
  return (
    <AdminForm prefix="user-create" title={t.newUser} submitLabel={t.create} busyLabel={t.creating} submit={submit}>
      <Field id="user-username" label={t.username}>
        <input id="user-username" value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="off" data-testid="user-username" />
      </Field>
      <Field id="user-password" label={t.password}>
        <input id="user-password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} data-testid="user-password" />
      </Field>
      <Field id="user-role" label={t.role}>
        <select id="user-role" value={role} onChange={(e) => setRole(e.target.value as Role)} data-testid="user-role">
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {t.roles[r]}
            </option>
          ))}
        </select>
      </Field>
      <p className="inst-hint">{t.roleHelp[role]}.</p>
      {role === 'installer' && <CityPicker cities={cities} value={chosen} onChange={setChosen} prefix="user" />}
    </AdminForm>
  )
}

function UserRow({ u, me, cities, created, onChanged }: { u: AdminUser; me: boolean; cities: CityInfo[]; created: string; onChanged: (message: string) => void }) {
  const errorText = useErrorText()
  const t = useStrings(ADMIN_STRINGS).users
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
      setError(errorText(e))
    }
  }
  const cityNames = (u.cities ?? []).map((id) => cities.find((c) => c.id === id)?.name ?? id)
  return (
    <>
      <tr className={u.disabled ? 'adm-disabled' : undefined} data-testid="user-item" data-username={u.username} data-role={u.role} data-disabled={String(u.disabled)}>
        <td>
          <strong>{u.username}</strong> {me && <small>{t.you}</small>}
        </td>
        <td>
          <span className={`inst-badge adm-role-${u.role}`}>{t.roles[u.role]}</span>
        </td>
        <td>{u.role === 'installer' ? (cityNames.length ? t.cities(cityNames.join(', ')) : t.noCities) : t.notInstaller}</td>
        <td>{u.disabled ? <span className="inst-badge inst-badge-revoked">{t.disabled}</span> : <span className="inst-badge inst-badge-active">{t.enabled}</span>}</td>
        <td className="adm-nowrap">{created}</td>
        <td>
          <div className="inst-actions inst-actions-wrap">
            <button type="button" className="inst-secondary" onClick={() => setEditing(!editing)} aria-expanded={editing} data-testid="user-edit">
              {t.edit}
            </button>
            {!me &&
              (u.disabled ? (
                <button type="button" className="inst-secondary" data-testid="user-enable" onClick={() => run(() => adminApi.updateUser(u.username, { disabled: false }), t.enabledNotice(u.username))}>
                  {t.enable}
                </button>
              ) : (
                <ConfirmButton
                  label={t.disable}
                  confirmLabel={t.disable}
                  question={t.disableQuestion(u.username)}
                  danger
                  testid="user-disable"
                  onConfirm={() => run(() => adminApi.updateUser(u.username, { disabled: true }), t.disabledNotice(u.username))}
                />
              ))}
          </div>
          <p className="error" role="alert">
            {error}
          </p>
        </td>
      </tr>
      {editing && (
        <tr className="adm-edit-row" data-testid="user-edit-row">
          <td colSpan={6}>
            <div className="inst-form adm-edit">
              <label htmlFor={`role-${u.username}`}>{t.role}</label>
              <select id={`role-${u.username}`} value={role} onChange={(e) => setRole(e.target.value as Role)} data-testid="user-role-select">
                {ROLES.map((r) => (
                  <option key={r} value={r}>
                    {t.roles[r]}
                  </option>
                ))}
              </select>
              {role === 'installer' && <CityPicker cities={cities} value={chosen} onChange={setChosen} prefix="edit" />}
              <div className="inst-actions">
                <button type="button" className="inst-secondary" onClick={() => setEditing(false)}>
                  {t.cancel}
                </button>
                <button type="button" data-testid="user-save" onClick={() => run(() => adminApi.updateUser(u.username, { role, cities: role === 'installer' ? chosen : null }), t.saved(u.username))}>
                  {t.save}
                </button>
              </div>
              <label htmlFor={`password-${u.username}`}>{t.newPassword}</label>
              <div className="inst-row">
                <input id={`password-${u.username}`} type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} data-testid="user-new-password" />
                <button
                  type="button"
                  className="inst-secondary"
                  disabled={password.length < 8}
                  data-testid="user-reset-password"
                  onClick={() => run(() => adminApi.updateUser(u.username, { password }), t.passwordSet(u.username))}
                >
                  {t.resetPassword}
                </button>
              </div>
            </div>
          </td>
        </tr>
      )}
    </>
  )
}
