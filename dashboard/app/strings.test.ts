import { describe, expect, it } from 'vitest'
import { dictionaryProblems } from '../i18n/dictionary-check.ts'
import { ALERT_STRINGS } from './alerts/strings.ts'
import { ALERT_WORD_STRINGS } from './alerts/words-strings.ts'
import { ERROR_STRINGS } from './api/error-strings.ts'
import { AUTH_STRINGS } from './auth/strings.ts'
import { DEVICE_STRINGS } from './devices/strings.ts'
import { COMMISSIONING_STRINGS } from './installer/commissioning-strings.ts'
import { IMPORT_STRINGS } from './installer/import-strings.tsx'
import { INSTALLER_STRINGS } from './installer/strings.ts'
import { KIND_STRINGS } from './devices/kind-strings.ts'
import { LIVE_STRINGS } from './live/strings.ts'
import { MAP_STRINGS } from './map/strings.ts'
import { OVERVIEW_STRINGS } from './overview/strings.ts'
import { APP_STRINGS } from './strings.ts'

const DICTIONARIES = { ALERT_STRINGS, ALERT_WORD_STRINGS, APP_STRINGS, AUTH_STRINGS, COMMISSIONING_STRINGS, ERROR_STRINGS, IMPORT_STRINGS, INSTALLER_STRINGS, DEVICE_STRINGS, KIND_STRINGS, LIVE_STRINGS, MAP_STRINGS, OVERVIEW_STRINGS }

describe('the staff app’s dictionaries', () => {
  for (const [name, dictionary] of Object.entries(DICTIONARIES)) {
    it(`${name}: every key in Italian and English, none empty`, () => {
      expect(Object.keys(dictionary).sort()).toEqual(['en', 'it'])
      expect(dictionaryProblems(dictionary)).toEqual([])
    })
  }

  it('Italian differs from English where words are expected (not copied over)', () => {
    expect(APP_STRINGS.it.top.logout).toBe('Esci')
    expect(AUTH_STRINGS.it.signIn).toBe('Accedi')
    expect(DEVICE_STRINGS.it.list.title).toBe('Dispositivi')
    expect(OVERVIEW_STRINGS.it.openAlerts(1)).toBe('1 allarme aperto')
    expect(APP_STRINGS.it.top.openAlerts(2)).toBe('2 allarmi aperti')
  })
})
