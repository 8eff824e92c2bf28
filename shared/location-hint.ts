// Durable Object location hints by coordinates, so each site's agent lives near its site.

export type LocationHint = "wnam" | "enam" | "sam" | "weur" | "eeur" | "apac" | "oc" | "afr" | "me";

/** A coarse continent split; good enough to keep the agent in the site's region. */
export function locationHintFor(lat: number, lon: number): LocationHint {
  if (lon < -30) {
    if (lat < 12) return "sam";
    return lon < -100 ? "wnam" : "enam";
  }
  if (lon < 60) {
    if (lat < 35 && lon < 35 && lat > -40) return lat > 15 && lon > 25 ? "me" : "afr";
    if (lat < 40 && lon >= 35) return "me";
    return lon < 20 ? "weur" : "eeur";
  }
  if (lat < -10 && lon > 110) return "oc";
  return "apac";
}
