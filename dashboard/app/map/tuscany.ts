import type { Feature, FeatureCollection, MultiPolygon, Polygon, Position } from 'geojson'

/**
 * A hand-drawn, approximate outline of Tuscany and its surroundings, so the map means something
 * without any tile server. Points are [lon, lat], accurate to a few km: good enough to recognise
 * the region and place devices, not for measuring.
 */

/** The coast from the Liguria border (Marina di Carrara) south-east to the Lazio border (Chiarone). */
const TUSCAN_COAST: Position[] = [
  [10.02, 44.045], // Parmignola, border with Liguria
  [10.04, 44.03], // Marina di Carrara
  [10.1, 44.0], // Marina di Massa
  [10.17, 43.96], // Forte dei Marmi
  [10.24, 43.87], // Viareggio
  [10.27, 43.78], // Serchio mouth
  [10.27, 43.68], // Marina di Pisa, Arno mouth
  [10.29, 43.6], // Calambrone
  [10.3, 43.55], // Livorno
  [10.37, 43.46], // Quercianella
  [10.41, 43.4], // Castiglioncello
  [10.48, 43.3], // Marina di Cecina
  [10.51, 43.2],
  [10.54, 43.09], // San Vincenzo
  [10.5, 43.0], // Baratti
  [10.49, 42.96], // Populonia
  [10.53, 42.92], // Piombino
  [10.64, 42.95],
  [10.76, 42.92], // Follonica
  [10.74, 42.81], // Punta Ala
  [10.88, 42.76], // Castiglione della Pescaia
  [10.97, 42.72], // Marina di Grosseto
  [11.0, 42.67], // Ombrone mouth
  [11.07, 42.61], // Uccellina hills
  [11.13, 42.55], // Talamone
  [11.18, 42.5], // Albinia
  [11.12, 42.45], // Monte Argentario, north
  [11.08, 42.41],
  [11.1, 42.37],
  [11.16, 42.36], // Monte Argentario, south
  [11.2, 42.41],
  [11.29, 42.41], // Ansedonia
  [11.45, 42.38], // Chiarone, border with Lazio
]

/** The land border from the Lazio coast back north to the Liguria coast, clockwise round the region. */
const TUSCAN_LAND_BORDER: Position[] = [
  [11.58, 42.45], // Lazio: Capalbio hinterland
  [11.66, 42.52],
  [11.75, 42.6], // Pitigliano / Farnese
  [11.78, 42.68], // Sorano
  [11.84, 42.77], // Proceno
  [11.94, 42.86], // Tuscany–Umbria–Lazio corner near San Casciano dei Bagni
  [11.98, 42.98], // Umbria: Città della Pieve
  [11.98, 43.1], // Chiusi, west of Trasimeno
  [12.03, 43.21],
  [12.11, 43.3], // Cortona's eastern edge
  [12.09, 43.4],
  [12.14, 43.5], // Monterchi
  [12.2, 43.59], // Sansepolcro
  [12.28, 43.65],
  [12.38, 43.71], // Sestino, easternmost point, Marche
  [12.3, 43.77],
  [12.16, 43.78], // Badia Tedalda, Romagna
  [12.04, 43.78],
  [11.96, 43.81], // Passo dei Mandrioli
  [11.85, 43.84], // Camaldoli forests
  [11.74, 43.88], // Monte Falterona
  [11.7, 43.98], // Muraglione
  [11.68, 44.07],
  [11.62, 44.15], // Marradi
  [11.53, 44.2], // Palazzuolo sul Senio
  [11.43, 44.23], // Firenzuola, northern tip
  [11.33, 44.18],
  [11.23, 44.12], // Passo della Futa
  [11.15, 44.12], // Montepiano, Prato's tip
  [11.02, 44.11], // Sambuca Pistoiese
  [10.9, 44.08], // Porrettana
  [10.8, 44.12], // Corno alle Scale
  [10.68, 44.16], // Abetone
  [10.56, 44.17],
  [10.47, 44.2], // San Pellegrino in Alpe
  [10.38, 44.24], // Pradarena
  [10.25, 44.3], // Passo del Cerreto
  [10.13, 44.37], // Lagastrello
  [10.02, 44.43],
  [9.93, 44.47], // Passo della Cisa, northernmost
  [9.83, 44.45], // Passo del Brattello
  [9.74, 44.43],
  [9.69, 44.37], // Zeri, westernmost
  [9.77, 44.31],
  [9.86, 44.25],
  [9.93, 44.17], // Aulla / Santo Stefano di Magra
  [9.99, 44.1], // Fosdinovo
]

const ELBA: Position[] = [
  [10.1, 42.77],
  [10.15, 42.8],
  [10.22, 42.8],
  [10.3, 42.82],
  [10.34, 42.82],
  [10.41, 42.87],
  [10.45, 42.82],
  [10.43, 42.75],
  [10.4, 42.71],
  [10.34, 42.75],
  [10.27, 42.73],
  [10.2, 42.74],
  [10.13, 42.74],
]

const GIGLIO: Position[] = [
  [10.88, 42.38],
  [10.93, 42.37],
  [10.92, 42.34],
  [10.88, 42.34],
]

/** The Ligurian coast west of Tuscany, from Imperia to the Magra (west to east). */
const LIGURIAN_COAST: Position[] = [
  [7.5, 43.78],
  [8.03, 43.88],
  [8.48, 44.31],
  [8.93, 44.41],
  [9.4, 44.27],
  [9.61, 44.17],
  [9.84, 44.05],
  [9.99, 44.05],
]

/** The Lazio coast south of Tuscany, to Anzio. */
const LAZIO_COAST: Position[] = [
  [11.61, 42.33],
  [11.7, 42.22],
  [11.79, 42.09],
  [11.95, 41.99],
  [12.22, 41.77],
  [12.62, 41.45],
  [13.5, 41.2],
]

const CORSICA: Position[] = [
  [9.42, 43.01],
  [9.47, 42.8],
  [9.45, 42.7],
  [9.53, 42.55],
  [9.55, 42.1],
  [9.4, 41.7],
  [9.22, 41.37],
  [8.88, 41.55],
  [8.6, 41.9],
  [8.57, 42.23],
  [8.67, 42.55],
  [9.07, 42.72],
  [9.3, 42.7],
  [9.34, 42.97],
]

const ring = (points: Position[]): Position[] => [...points, points[0]!]

export const tuscany: Feature<MultiPolygon> = {
  type: 'Feature',
  properties: { name: 'Toscana' },
  geometry: {
    type: 'MultiPolygon',
    coordinates: [[ring([...TUSCAN_COAST, ...TUSCAN_LAND_BORDER])], [ring(ELBA)], [ring(GIGLIO)]],
  },
}

/**
 * Land around Tuscany (Liguria, Emilia-Romagna, Umbria, Marche, Lazio, Corsica), drawn under
 * Tuscany in a muted colour. It follows the same coast so sea and land meet in one line.
 */
export const neighbours: FeatureCollection<Polygon> = {
  type: 'FeatureCollection',
  features: [
    {
      type: 'Feature',
      properties: { name: 'Italia' },
      geometry: {
        type: 'Polygon',
        coordinates: [ring([...LIGURIAN_COAST, ...TUSCAN_COAST, ...LAZIO_COAST, [18, 40], [18, 47.5], [6, 47.5], [6, 43.7]])],
      },
    },
    { type: 'Feature', properties: { name: 'Corse' }, geometry: { type: 'Polygon', coordinates: [ring(CORSICA)] } },
  ],
}

/** Point count of the Tuscany outline, for the test that keeps it within the intended detail. */
export const TUSCANY_POINTS = TUSCAN_COAST.length + TUSCAN_LAND_BORDER.length
