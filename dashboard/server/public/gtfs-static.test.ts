import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterAll, describe, expect, it } from 'vitest'
import { gtfsZip, largeGtfs, minimalGtfs } from '../../../testkit/gtfs-zip.ts'
import { createGtfsParser, createGtfsStore, GtfsError, matchTrip, parseGtfs, serviceClock, type GtfsIndex } from './gtfs-static.ts'

/** Static GTFS: the checks that refuse a bad zip (file and line named) and the trip matching rule, on a fixed clock. */

// Friday 4 December 2026, 08:30 in Firenze (07:30 UTC).
const FRIDAY_0830 = Date.UTC(2026, 11, 4, 7, 30)
const HOUR = 3_600_000
/** matchTrip at an instant, on the timetable's own clock. */
const match = (index: GtfsIndex, route: string, at: number, delay?: number) => matchTrip(index, route, serviceClock(at, index.timezone), delay)

const timetable = (): Record<string, string> => ({
  ...minimalGtfs('14'),
  'routes.txt': 'route_id,route_short_name,route_type\n14,14,3\n23,23,3\n',
  'calendar.txt': 'service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\nWEEKDAY,1,1,1,1,1,0,0,20260101,20261231\nSUNDAY,0,0,0,0,0,0,1,20260101,20261231\n',
  'calendar_dates.txt': 'service_id,date,exception_type\nSTRIKE,20261204,1\nWEEKDAY,20261225,2\n',
  'trips.txt': [
    'route_id,service_id,trip_id,direction_id',
    '14,WEEKDAY,early,0', // 08:00–09:00, in progress but started before `now`
    '14,WEEKDAY,now,1', // 08:20–09:10: the one started last
    '14,WEEKDAY,later,0', // 08:40–09:30: not begun
    '14,SUNDAY,sunday,0', // 08:25–09:00 but not on a Friday
    '23,STRIKE,strike,0', // 08:00–09:00, only on 4 December
    '23,WEEKDAY,night,0', // 23:30–25:10: past midnight
  ].join('\n'),
  'stop_times.txt': [
    'trip_id,arrival_time,departure_time,stop_id,stop_sequence',
    'early,08:00:00,08:00:00,A,1',
    'early,,,B,2', // no time between timepoints
    'early,09:00:00,09:00:00,C,3',
    'now,08:20:00,08:20:00,A,1',
    'now,09:10:00,09:10:00,C,2',
    'later,08:40:00,08:40:00,A,1',
    'later,09:30:00,09:30:00,C,2',
    'sunday,08:25:00,08:25:00,A,1',
    'sunday,09:00:00,09:00:00,C,2',
    'strike,8:00:00,8:00:00,A,1',
    'strike,09:00:00,09:00:00,C,2',
    'night,23:30:00,23:30:00,A,1',
    'night,25:10:00,25:10:00,C,2',
  ].join('\n'),
})

const refusal = (files: Record<string, string | undefined>) => {
  try {
    parseGtfs(gtfsZip(files))
  } catch (err) {
    expect(err).toBeInstanceOf(GtfsError)
    return (err as Error).message
  }
  throw new Error('the GTFS was accepted')
}

describe('static GTFS', () => {
  it('indexes routes, trips and services', () => {
    const index = parseGtfs(gtfsZip(timetable()))
    expect(index.summary).toEqual({ routes: 2, trips: 6, services: 3 })
    expect(index.timezone).toBe('Europe/Rome')
  })

  it('matches a bus to the trip of its route that started last among those in progress today', () => {
    const index = parseGtfs(gtfsZip(timetable()))
    expect(match(index, '14', FRIDAY_0830)).toEqual({ tripId: 'now', startDate: '20261204', startTime: '08:20:00', directionId: 1 })
    // 15 minutes late: on its schedule it is 08:15, before `now` left, so on `early`.
    expect(match(index, '14', FRIDAY_0830, 900)?.tripId).toBe('early')
    // 15 minutes early: 08:45, `later` has begun.
    expect(match(index, '14', FRIDAY_0830, -900)?.tripId).toBe('later')
    // Nothing of route 14 runs at 12:30.
    expect(match(index, '14', FRIDAY_0830 + 4 * HOUR)).toBeUndefined()
    expect(match(index, 'nope', FRIDAY_0830)).toBeUndefined()
  })

  it('follows calendar_dates: added on a day, removed on a holiday', () => {
    const index = parseGtfs(gtfsZip(timetable()))
    expect(match(index, '23', FRIDAY_0830)).toEqual({ tripId: 'strike', startDate: '20261204', startTime: '08:00:00', directionId: 0 })
    expect(match(index, '23', FRIDAY_0830 + 7 * 86_400_000)).toBeUndefined()
    // Christmas (a Friday) removed from WEEKDAY.
    expect(match(index, '14', Date.UTC(2026, 11, 25, 7, 30))).toBeUndefined()
  })

  it("counts a trip past midnight on the previous day's service", () => {
    const index = parseGtfs(gtfsZip(timetable()))
    // Saturday 00:30 in Firenze: Friday's 23:30 trip, at 24:30 of its service day.
    expect(match(index, '23', Date.UTC(2026, 11, 4, 23, 30))).toEqual({ tripId: 'night', startDate: '20261204', startTime: '23:30:00', directionId: 0 })
    // Sunday 00:30: Saturday has no WEEKDAY service.
    expect(match(index, '23', Date.UTC(2026, 11, 5, 23, 30))).toBeUndefined()
  })

  it("refuses a clock of another time zone than the timetable's", () => {
    const index = parseGtfs(gtfsZip(timetable()))
    // 08:30 in Rome is 02:30 in New York: matched on that clock, it would silently find no trip.
    expect(() => matchTrip(index, '14', serviceClock(FRIDAY_0830, 'America/New_York'))).toThrow('matchTrip: a clock of America/New_York for a timetable of Europe/Rome')
  })

  it('refuses a bad zip naming the file and line', () => {
    const files = timetable()
    expect(refusal({ ...files, 'stop_times.txt': undefined})).toBe('stop_times.txt is missing from the zip (GTFS files must be at its top level)')
    expect(refusal({ ...files, 'stop_times.txt': files['stop_times.txt']!.replace('09:30:00,09:30:00', '9h30,9h30') })).toBe("stop_times.txt line 8: arrival_time '9h30' is not a time HH:MM:SS")
    expect(refusal({ ...files, 'trips.txt': `${files['trips.txt']}\n99,WEEKDAY,ghost,0` })).toBe("trips.txt line 8: route_id '99' is not in routes.txt")
    expect(refusal({ ...files, 'trips.txt': `${files['trips.txt']}\n14,NEVER,ghost,0` })).toBe("trips.txt line 8: service_id 'NEVER' is in neither calendar.txt nor calendar_dates.txt")
    expect(refusal({ ...files, 'trips.txt': `${files['trips.txt']}\n14,WEEKDAY,ghost,0` })).toBe("trips.txt line 8: trip 'ghost' has no timed stops in stop_times.txt")
    expect(refusal({ ...files, 'calendar.txt': files['calendar.txt']!.replace('WEEKDAY,1,1,1,1,1,0,0', 'WEEKDAY,1,1,yes,1,1,0,0') })).toBe("calendar.txt line 2: wednesday must be 0 or 1, not 'yes'")
    expect(refusal({ ...files, 'routes.txt': 'route_id,route_short_name\n14,14\n23,"unterminated\n' })).toMatch(/^routes\.txt: .*line 3/i)
    expect(refusal({ ...files, 'agency.txt': 'agency_name,agency_timezone\nA,Mars/Olympus\n' })).toBe("agency.txt line 2: agency_timezone 'Mars/Olympus' is not a time zone")
    expect(refusal({ ...files, 'calendar.txt': undefined, 'calendar_dates.txt': undefined})).toMatch(/^calendar\.txt and calendar_dates\.txt are both missing/)
    expect(() => parseGtfs(Buffer.from('PK\u0003\u0004 not really a zip'))).toThrow(/^not a readable zip file/)
  })

  describe('in a worker thread', () => {
    const parser = createGtfsParser()
    afterAll(() => parser.close())

    it('gives the same index, and refuses a bad zip with the same file and line', async () => {
      const files = timetable()
      const index = await parser.parse(gtfsZip(files))
      expect(index.summary).toEqual({ routes: 2, trips: 6, services: 3 })
      expect(match(index, '14', FRIDAY_0830)).toEqual({ tripId: 'now', startDate: '20261204', startTime: '08:20:00', directionId: 1 })
      const bad = parser.parse(gtfsZip({ ...files, 'trips.txt': `${files['trips.txt']}\n99,WEEKDAY,ghost,0` }))
      await expect(bad).rejects.toBeInstanceOf(GtfsError)
      await expect(bad).rejects.toThrow("trips.txt line 8: route_id '99' is not in routes.txt")
      await expect(parser.parse(Buffer.from('PK\u0003\u0004 not really a zip'))).rejects.toThrow(/^not a readable zip file/)
    })

    it('leaves the event loop free while a large GTFS is parsed', async () => {
      // 40 routes × 100 trips × 30 stops: 120,000 rows of stop_times.txt.
      const zip = gtfsZip(largeGtfs(40, 100, 30))
      const events: string[] = []
      let done = false
      let ticks = 0
      // A turn of the event loop after another, as long as the parse runs: a parse on this thread would leave none.
      const spin = new Promise<void>((resolve) => {
        const tick = () => {
          if (done) return resolve()
          ticks += 1
          if (ticks === 1) events.push('event loop turned')
          setImmediate(tick)
        }
        setImmediate(tick)
      })
      const index = await parser.parse(zip).finally(() => {
        done = true
        events.push('parsed')
      })
      await spin
      expect(index.summary).toEqual({ routes: 40, trips: 4000, services: 1 })
      expect(index.byRoute.get('R39')).toHaveLength(100)
      expect(events).toEqual(['event loop turned', 'parsed'])
      expect(ticks).toBeGreaterThan(1)
    })
  })

  it('keeps the later of two uploads of a city, in memory and on disk, whichever parse ends first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'piazza-gtfs-store-'))
    // A parser whose parses end when the test says.
    const pending: { zip: Uint8Array; finish: () => void }[] = []
    const parser = {
      parse: (zip: Uint8Array) => new Promise<GtfsIndex>((resolve) => pending.push({ zip, finish: () => resolve(parseGtfs(zip)) })),
      close: async () => {},
    }
    try {
      const store = createGtfsStore({ dir, logger: pino({ level: 'silent' }), parser })
      await store.loaded
      const first = gtfsZip(minimalGtfs('14'))
      const second = gtfsZip(minimalGtfs('23'))
      const a = store.put('firenze', first)
      const b = store.put('firenze', second)
      await expect.poll(() => pending.length).toBe(2)
      pending[1]!.finish()
      await b
      pending[0]!.finish()
      await a
      expect([...store.get('firenze')!.byRoute.keys()]).toEqual(['23'])
      expect(readFileSync(join(dir, 'firenze.zip')).equals(second)).toBe(true)
      // And a restart reads back that one.
      const again = createGtfsStore({ dir, logger: pino({ level: 'silent' }), parser: createGtfsParser() })
      await again.loaded
      expect([...again.get('firenze')!.byRoute.keys()]).toEqual(['23'])
      await again.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
