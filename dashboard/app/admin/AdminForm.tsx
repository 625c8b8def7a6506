import { useState, type FormEvent, type ReactNode } from 'react'
import { useErrorText } from '../api/error-text.ts'

/**
 * One create form for the admin pages (new user, new contact point): a card with a title, the
 * fields, one error line and a submit button that says it is working. Test ids follow the
 * `prefix`: `<prefix>-form`, `<prefix>-error`, `<prefix>-submit`.
 */
export function AdminForm({
  prefix,
  title,
  submitLabel,
  busyLabel,
  submit,
  children,
}: {
  prefix: string
  title: string
  submitLabel: string
  busyLabel: string
  /** Returns an error to show (a field left wrong) or nothing; a thrown error is shown too. */
  submit: () => Promise<string | void> | string | void
  children: ReactNode
}) {
  const errorText = useErrorText()
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const onSubmit = async (e: FormEvent) => {
    e.preventDefault()
    if (busy) return
    setBusy(true)
    setError('')
    try {
      setError((await submit()) ?? '')
    } catch (err) {
      setError(errorText(err))
    } finally {
      setBusy(false)
    }
  }
  const titleId = `${prefix}-title`
  return (
    <form className="inst-card inst-form" onSubmit={onSubmit} noValidate data-testid={`${prefix}-form`} aria-labelledby={titleId}>
      <h2 id={titleId}>{title}</h2>
      {children}
      <p className="error" role="alert" data-testid={`${prefix}-error`}>
        {error}
      </p>
      <button type="submit" className="inst-primary" aria-disabled={busy} data-testid={`${prefix}-submit`}>
        {busy ? busyLabel : submitLabel}
      </button>
    </form>
  )
}

/** A label and its input, the label pointing at `id`. */
export function Field({ id, label, children }: { id: string; label: ReactNode; children: ReactNode }) {
  return (
    <>
      <label htmlFor={id}>{label}</label>
      {children}
    </>
  )
}
