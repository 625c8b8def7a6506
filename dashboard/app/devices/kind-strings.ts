import type { AppConfig } from '../api/types.ts'
import { appLang } from '../locale.ts'

/**
 * The device kinds' words (devices/kinds.ts names them in English for the API): type, field and
 * tag labels and the counted units. A kind or field not listed here shows the server's label.
 */
const en = {
  types: {
    'air-quality': 'Air-quality station',
    noise: 'Noise meter',
    weather: 'Weather station',
    'traffic-counter': 'Traffic counter',
    bus: 'Bus tracker',
    parking: 'Parking area',
    'bike-dock': 'Bike-sharing dock',
  } as Record<string, string>,
  fields: {
    LAeq: 'Equivalent level LAeq',
    LAmax: 'Maximum level LAmax',
    temperature: 'Temperature',
    relativeHumidity: 'Relative humidity',
    atmosphericPressure: 'Atmospheric pressure',
    windSpeed: 'Wind speed',
    windDirection: 'Wind direction',
    precipitation: 'Precipitation',
    intensity: 'Vehicles in the interval',
    averageVehicleSpeed: 'Average speed',
    occupancy: 'Occupancy',
    lat: 'Latitude',
    lon: 'Longitude',
    speed: 'Speed',
    heading: 'Heading',
    delay: 'Delay against timetable',
    availableSpotNumber: 'Free spots',
    totalSpotNumber: 'Total spots',
    availableBikeNumber: 'Free bikes',
    freeSlotNumber: 'Free docks',
  } as Record<string, string>,
  tags: { laneId: 'Lane', route: 'Route' } as Record<string, string>,
  units: { vehicles: 'vehicles', spots: 'spots', bikes: 'bikes', docks: 'docks' } as Record<string, string>,
}

const it: typeof en = {
  types: {
    'air-quality': 'Centralina qualità dell’aria',
    noise: 'Fonometro',
    weather: 'Stazione meteo',
    'traffic-counter': 'Contatore di traffico',
    bus: 'Localizzatore autobus',
    parking: 'Parcheggio',
    'bike-dock': 'Stazione bike sharing',
  },
  fields: {
    LAeq: 'Livello equivalente LAeq',
    LAmax: 'Livello massimo LAmax',
    temperature: 'Temperatura',
    relativeHumidity: 'Umidità relativa',
    atmosphericPressure: 'Pressione atmosferica',
    windSpeed: 'Velocità del vento',
    windDirection: 'Direzione del vento',
    precipitation: 'Precipitazioni',
    intensity: 'Veicoli nell’intervallo',
    averageVehicleSpeed: 'Velocità media',
    occupancy: 'Occupazione',
    lat: 'Latitudine',
    lon: 'Longitudine',
    speed: 'Velocità',
    heading: 'Direzione',
    delay: 'Ritardo sull’orario',
    availableSpotNumber: 'Posti liberi',
    totalSpotNumber: 'Posti totali',
    availableBikeNumber: 'Bici disponibili',
    freeSlotNumber: 'Stalli liberi',
  },
  tags: { laneId: 'Corsia', route: 'Linea' },
  units: { vehicles: 'veicoli', spots: 'posti', bikes: 'bici', docks: 'stalli' },
}

export const KIND_STRINGS = { en, it }

export function typeLabel(config: AppConfig, type: string): string {
  return typeLabelOr(type, config.kinds[type]?.label)
}

export function fieldLabel(config: AppConfig, type: string, field: string): string {
  return fieldLabelOr(field, config.kinds[type]?.fields[field]?.label)
}

/** For pages with the server's raw kind list: its label is the fallback. */
export function typeLabelOr(type: string, serverLabel: string | undefined): string {
  return KIND_STRINGS[appLang()].types[type] ?? serverLabel ?? type
}

export function fieldLabelOr(field: string, serverLabel: string | undefined): string {
  return KIND_STRINGS[appLang()].fields[field] ?? serverLabel ?? field
}

export function tagLabel(config: AppConfig, type: string, tag: string): string {
  return KIND_STRINGS[appLang()].tags[tag] ?? config.kinds[type]?.tags?.[tag] ?? tag
}

/** A counted unit in words ("vehicles" → "veicoli"); symbols (µg/m³, km/h) stay. */
export function unitLabel(unit: string | undefined): string | undefined {
  return unit === undefined ? undefined : (KIND_STRINGS[appLang()].units[unit] ?? unit)
}
