/**
 * Real streets and squares of each city, where a monitoring station might stand: the simulated
 * air-quality stations are named after them ("Firenze – Viale Gramsci"), in Italian as an
 * installer in Tuscany would name them.
 */
export const STREETS: Record<string, readonly string[]> = {
  firenze: ['Viale Gramsci', 'Via Bassi', 'Viale dei Mille', 'Via di Novoli', 'Piazza della Libertà', 'Viale Redi', 'Via dei Serragli', 'Lungarno Colombo', 'Via Ponte alle Mosse', 'Viale Europa', 'Via Baracca', 'Viale Giannotti'],
  prato: ['Viale Roma', 'Via Ferrucci', 'Piazza San Marco', 'Viale Galilei', 'Via Strozzi', 'Viale della Repubblica', 'Via Pistoiese', 'Viale Montegrappa'],
  livorno: ['Viale Carducci', 'Via Grande', 'Piazza Cappiello', 'Viale Italia', 'Via Gobetti', 'Borgo Cappuccini', 'Via Garibaldi', 'Piazza Cavour'],
  arezzo: ['Via Fiorentina', 'Viale Michelangelo', 'Piazza Guido Monaco', 'Via Vittorio Veneto', 'Viale Mecenate', 'Via Romana', 'Viale Giotto'],
  pisa: ['Via Conte Fazio', 'Lungarno Pacinotti', 'Piazza Vittorio Emanuele II', 'Via Aurelia', 'Viale delle Piagge', 'Borgo Stretto', 'Via Pietrasantina', 'Viale Bonaini'],
  pistoia: ['Via Signorelli', 'Viale Adua', 'Via Fiorentina', 'Viale Petrocchi', 'Piazza San Francesco', 'Via Pratese', 'Viale Italia'],
  lucca: ['Viale Carducci', 'Porta Elisa', 'Via San Concordio', 'Viale Puccini', 'Piazza Napoleone', 'Via di Tiglio', 'Viale Castracani'],
  grosseto: ['Via Sonnino', 'Via Unione Sovietica', 'Viale Matteotti', 'Piazza Dante', 'Via Aurelia Nord', 'Viale Sonnino', 'Via Roma'],
  massa: ['Viale Roma', 'Via Marina Vecchia', 'Piazza Aranci', 'Via Aurelia Ovest', 'Viale della Democrazia', 'Via Bassa Tambura', 'Viale Eugenio Chiesa'],
  siena: ['Viale Bracci', 'Via Fiorentina', 'Viale Cavour', 'Strada di Pescaia', 'Viale Vittorio Emanuele II', 'Piazza Gramsci', 'Viale Toselli'],
}

/**
 * The n-th (from 1) station's street in a city: the list taken in turn from a place the seed
 * picks, so names are distinct until the list runs out (then "(2)", "(3)"…) and never random.
 */
export function streetName(cityId: string, n: number, seed: number): string | undefined {
  const streets = STREETS[cityId]
  if (!streets || streets.length === 0) return undefined
  const start = Math.abs(Math.trunc(seed)) % streets.length
  const street = streets[(start + n - 1) % streets.length]!
  const round = Math.floor((n - 1) / streets.length) + 1
  return round === 1 ? street : `${street} (${round})`
}
