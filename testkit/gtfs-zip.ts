import { strToU8, zipSync } from 'fflate'

/** A GTFS zip from the text of its files (an undefined one is left out), built with the same zip library the server reads with. */
export function gtfsZip(files: Record<string, string | undefined>): Buffer {
  const present = Object.entries(files).filter((e): e is [string, string] => e[1] !== undefined)
  return Buffer.from(zipSync(Object.fromEntries(present.map(([name, text]) => [name, strToU8(text)]))))
}

/** HH:MM:SS from seconds after the service day's midnight (hours may pass 24, as GTFS allows). */
export function gtfsTime(seconds: number): string {
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  return [h, m, s].map((n) => String(n).padStart(2, '0')).join(':')
}

/** The smallest valid GTFS: one route (`route`), one trip running every day 06:00–07:00. */
export function minimalGtfs(route = '14'): Record<string, string> {
  return {
    'agency.txt': 'agency_id,agency_name,agency_url,agency_timezone\nA,Autolinee Test,https://example.org,Europe/Rome\n',
    'routes.txt': `route_id,agency_id,route_short_name,route_type\n${route},A,${route},3\n`,
    'calendar.txt': 'service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\nDAILY,1,1,1,1,1,1,1,20200101,20991231\n',
    'trips.txt': `route_id,service_id,trip_id,direction_id\n${route},DAILY,T1,0\n`,
    'stop_times.txt': 'trip_id,arrival_time,departure_time,stop_id,stop_sequence\nT1,06:00:00,06:00:00,S1,1\nT1,07:00:00,07:00:00,S2,2\n',
  }
}

/**
 * A large valid GTFS, as a region's operator would publish: `routes` routes of `tripsPerRoute`
 * trips each, every trip calling at `stopsPerTrip` stops (so routes × trips × stops rows of
 * stop_times.txt), all running daily.
 */
export function largeGtfs(routes: number, tripsPerRoute: number, stopsPerTrip: number): Record<string, string> {
  const routeRows = ['route_id,agency_id,route_short_name,route_type']
  const tripRows = ['route_id,service_id,trip_id,direction_id']
  const stopTimes = ['trip_id,arrival_time,departure_time,stop_id,stop_sequence']
  for (let r = 0; r < routes; r++) {
    routeRows.push(`R${r},A,${r},3`)
    for (let t = 0; t < tripsPerRoute; t++) {
      const trip = `R${r}-T${t}`
      tripRows.push(`R${r},DAILY,${trip},${t % 2}`)
      const start = 5 * 3600 + t * 600
      for (let s = 0; s < stopsPerTrip; s++) {
        const time = gtfsTime(start + s * 90)
        stopTimes.push(`${trip},${time},${time},S${(r * 7 + s) % 2000},${s + 1}`)
      }
    }
  }
  return {
    ...minimalGtfs(),
    'routes.txt': `${routeRows.join('\n')}\n`,
    'trips.txt': `${tripRows.join('\n')}\n`,
    'stop_times.txt': `${stopTimes.join('\n')}\n`,
  }
}
