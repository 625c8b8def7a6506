/**
 * Groups points on screen that would overlap: a point joins the first group whose first point is
 * within `radius` pixels, else starts its own. Greedy and in the given order (the stations'
 * natural order), so the same view always gives the same groups. A group sits at its members'
 * mean position.
 */
export interface ScreenPoint {
  id: string
  x: number
  y: number
}

export interface Cluster {
  ids: string[]
  x: number
  y: number
}

export function clusterPoints(points: readonly ScreenPoint[], radius: number): Cluster[] {
  const groups: { first: ScreenPoint; members: ScreenPoint[] }[] = []
  for (const p of points) {
    const g = groups.find((g) => Math.hypot(g.first.x - p.x, g.first.y - p.y) < radius)
    if (g) g.members.push(p)
    else groups.push({ first: p, members: [p] })
  }
  return groups.map(({ members }) => ({
    ids: members.map((m) => m.id),
    x: members.reduce((a, m) => a + m.x, 0) / members.length,
    y: members.reduce((a, m) => a + m.y, 0) / members.length,
  }))
}
